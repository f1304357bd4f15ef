import { describe, expect, it } from "vitest";
import { decideRoute, missingGrants, parseRouteRules } from "../../src/policy/route-policy";

const fail = (problem: string) => new Error(problem);
const rules = parseRouteRules(
  [
    { path: "/health", public: true },
    { path: "/public/*", methods: ["GET", "HEAD"], public: true },
    { path: "/admin/*", scopes: ["admin"] },
    { path: "/orders/*", methods: ["DELETE"], roles: ["clerk"] },
  ],
  fail,
);

describe("decideRoute", () => {
  it("protects anything no rule matches", () => {
    expect(decideRoute(rules, "GET", "/api/x")).toEqual({ access: "protected", scopes: [], roles: [] });
  });

  it("matches exact paths exactly", () => {
    expect(decideRoute(rules, "GET", "/health").access).toBe("public");
    expect(decideRoute(rules, "GET", "/health/deep").access).toBe("protected");
    expect(decideRoute(rules, "GET", "/healthz").access).toBe("protected");
  });

  it("matches a prefix rule on whole segments only", () => {
    expect(decideRoute(rules, "GET", "/public").access).toBe("public");
    expect(decideRoute(rules, "GET", "/public/a/b").access).toBe("public");
    expect(decideRoute(rules, "GET", "/publicity").access).toBe("protected");
  });

  it("applies a rule only to its methods", () => {
    expect(decideRoute(rules, "POST", "/public/form").access).toBe("protected");
    expect(decideRoute(rules, "DELETE", "/orders/1")).toEqual({ access: "protected", scopes: [], roles: ["clerk"] });
    expect(decideRoute(rules, "GET", "/orders/1")).toEqual({ access: "protected", scopes: [], roles: [] });
  });

  it("takes the first matching rule", () => {
    const ordered = parseRouteRules(
      [
        { path: "/a/*", public: true },
        { path: "/a/b", scopes: ["x"] },
      ],
      fail,
    );
    expect(decideRoute(ordered, "GET", "/a/b").access).toBe("public");
  });
});

describe("missingGrants", () => {
  it("lists the scopes and roles the token lacks", () => {
    const decision = decideRoute(rules, "GET", "/admin/users");
    if (decision.access !== "protected") throw new Error("expected protected");
    expect(missingGrants(decision, { scopes: new Set(["read"]), roles: new Set() })).toEqual({
      scopes: ["admin"],
      roles: [],
    });
    expect(missingGrants(decision, { scopes: new Set(["admin"]), roles: new Set() })).toEqual({
      scopes: [],
      roles: [],
    });
  });
});

describe("parseRouteRules", () => {
  it.each([
    ["not a list", { path: "/x" }],
    ["a path without a slash", [{ path: "x" }]],
    ["a wildcard in the middle", [{ path: "/a/*/b" }]],
    ["a partial-segment wildcard", [{ path: "/a*" }]],
    ["lower-case methods", [{ path: "/a", methods: ["get"] }]],
    ["a public rule with scopes", [{ path: "/a", public: true, scopes: ["x"] }]],
    ["a scope with a space", [{ path: "/a", scopes: ["a b"] }]],
  ])("refuses %s", (_name, raw) => {
    expect(() => parseRouteRules(raw, fail)).toThrow();
  });
});

describe('revocation = "strict"', () => {
  it("marks a protected route's decision as strict", () => {
    const strict = parseRouteRules([{ path: "/payments/*", revocation: "strict", scopes: ["pay"] }], fail);
    expect(decideRoute(strict, "POST", "/payments/1")).toEqual({
      access: "protected",
      scopes: ["pay"],
      roles: [],
      strictRevocation: true,
    });
    expect(decideRoute(strict, "GET", "/other")).toEqual({ access: "protected", scopes: [], roles: [] });
  });

  it("refuses another value, or strict revocation on a public route", () => {
    expect(() => parseRouteRules([{ path: "/pay/*", revocation: "eventual" }], fail)).toThrow(/only be "strict"/);
    expect(() => parseRouteRules([{ path: "/pay/*", revocation: true }], fail)).toThrow(/only be "strict"/);
    expect(() => parseRouteRules([{ path: "/pay/*", public: true, revocation: "strict" }], fail)).toThrow(
      /public and cannot have strict revocation/,
    );
  });
});
