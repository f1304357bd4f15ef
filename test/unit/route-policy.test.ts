import { describe, expect, it } from "vitest";
import { canonicalPath, type PathOptions, STRICT_PATHS } from "../../src/canonical/canonical-path";
import { explainRoute } from "../../src/policy/route-explain";
import {
  type DecideOptions,
  decideRoute,
  missingGrants,
  parseRouteRules,
  type RouteRule,
} from "../../src/policy/route-policy";

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

/** As the gateway decides: on the canonical path's readings, never on the spelling. */
function decide(
  list: readonly RouteRule[],
  method: string,
  path: string,
  options: DecideOptions = {},
  paths: PathOptions = STRICT_PATHS,
) {
  const canonical = canonicalPath(path, paths);
  if (!canonical.ok) throw new Error(`refused: ${canonical.refusal}`);
  return decideRoute(list, method, canonical.readings, options);
}

const PROTECTED = { access: "protected", scopes: [], roles: [] };

describe("decideRoute", () => {
  it("protects anything no rule matches", () => {
    expect(decide(rules, "GET", "/api/x")).toEqual(PROTECTED);
  });

  it("matches exact paths exactly", () => {
    expect(decide(rules, "GET", "/health").access).toBe("public");
    expect(decide(rules, "GET", "/health/deep").access).toBe("protected");
    expect(decide(rules, "GET", "/healthz").access).toBe("protected");
  });

  it("matches a prefix rule on whole segments only", () => {
    expect(decide(rules, "GET", "/public").access).toBe("public");
    expect(decide(rules, "GET", "/public/a/b").access).toBe("public");
    expect(decide(rules, "GET", "/publicity").access).toBe("protected");
  });

  it("applies a rule only to its methods", () => {
    expect(decide(rules, "PUT", "/public/form").access).toBe("protected");
    expect(decide(rules, "DELETE", "/orders/1")).toEqual({ access: "protected", scopes: [], roles: ["clerk"] });
    expect(decide(rules, "GET", "/orders/1")).toEqual(PROTECTED);
  });

  it("takes the first matching rule", () => {
    const ordered = parseRouteRules(
      [
        { path: "/a/b", scopes: ["x"] },
        { path: "/a/*", public: true },
      ],
      fail,
    );
    expect(decide(ordered, "GET", "/a/b")).toEqual({ access: "protected", scopes: ["x"], roles: [] });
    expect(decide(ordered, "GET", "/a/c").access).toBe("public");
  });
});

describe("the strictest reading decides", () => {
  const exact = parseRouteRules(
    [
      { path: "/public/*", public: true },
      { path: "/health", public: true },
      { path: "/admin", scopes: ["admin"] },
      { path: "/reports", methods: ["GET"], scopes: ["reports"] },
    ],
    fail,
  );

  it("gives a path that differs only in case the rule of its lower-case spelling, at least", () => {
    expect(decide(exact, "GET", "/ADMIN")).toEqual({ access: "protected", scopes: ["admin"], roles: [] });
    expect(decide(exact, "GET", "/Admin/")).toEqual({ access: "protected", scopes: ["admin"], roles: [] });
    // Public only where every reading is public: a case-insensitive upstream serves /public/* for it,
    // a case-sensitive one something else, which is protected by default.
    expect(decide(exact, "GET", "/PUBLIC/info")).toEqual(PROTECTED);
    expect(decide(exact, "GET", "/public/Info").access).toBe("public");
  });

  it("gives a trailing slash after an exact rule that rule", () => {
    expect(decide(exact, "GET", "/admin/")).toEqual({ access: "protected", scopes: ["admin"], roles: [] });
    expect(decide(exact, "GET", "/health/")).toEqual(PROTECTED);
  });

  it("reads rules written in upper case case-insensitively too", () => {
    const upper = parseRouteRules([{ path: "/Admin/*", scopes: ["admin"] }], fail);
    expect(decide(upper, "GET", "/admin/x")).toEqual({ access: "protected", scopes: ["admin"], roles: [] });
  });

  it("covers HEAD with a rule that lists GET", () => {
    expect(decide(exact, "HEAD", "/reports")).toEqual({ access: "protected", scopes: ["reports"], roles: [] });
  });

  it("judges a POST as every method it could be overridden to, unless the upstream never overrides", () => {
    const orders = parseRouteRules([{ path: "/orders/*", methods: ["DELETE"], roles: ["clerk"] }], fail);
    expect(decide(orders, "POST", "/orders/1", { postMayOverride: true })).toEqual({
      access: "protected",
      scopes: [],
      roles: ["clerk"],
    });
    expect(decide(orders, "POST", "/orders/1", { postMayOverride: false })).toEqual(PROTECTED);
    const publicForm = parseRouteRules([{ path: "/forms/*", methods: ["POST"], public: true }], fail);
    expect(decide(publicForm, "POST", "/forms/x", { postMayOverride: true })).toEqual(PROTECTED);
    expect(decide(publicForm, "POST", "/forms/x", { postMayOverride: false }).access).toBe("public");
  });

  it("matches percent-encoded letters as the letters", () => {
    expect(decide(exact, "GET", "/%61dmin")).toEqual({ access: "protected", scopes: ["admin"], roles: [] });
  });

  it("matches with matrix parameters stripped, as a servlet container routes, when they are allowed", () => {
    const paths = { ...STRICT_PATHS, semicolons: true };
    expect(decide(exact, "GET", "/admin;jsessionid=1", {}, paths)).toEqual({
      access: "protected",
      scopes: ["admin"],
      roles: [],
    });
    expect(decide(exact, "GET", "/public;x/../admin", {}, paths)).toEqual({
      access: "protected",
      scopes: ["admin"],
      roles: [],
    });
  });

  it("matches with slashes merged, as nginx routes, when double slashes are allowed", () => {
    const paths = { ...STRICT_PATHS, doubleSlashes: true };
    expect(decide(exact, "GET", "//admin", {}, paths)).toEqual({ access: "protected", scopes: ["admin"], roles: [] });
    expect(decide(exact, "GET", "/public//info", {}, paths).access).toBe("public");
  });

  it("matches %2F as a separator too, when encoded slashes are allowed", () => {
    const paths = { ...STRICT_PATHS, encodedSlashes: true };
    const secret = parseRouteRules(
      [
        { path: "/repos/secret/*", scopes: ["x"] },
        { path: "/repos/*", public: true },
      ],
      fail,
    );
    expect(decide(secret, "GET", "/repos/a%2Fb", {}, paths).access).toBe("public");
    expect(decide(secret, "GET", "/repos/secret%2Fkeys", {}, paths)).toEqual({
      access: "protected",
      scopes: ["x"],
      roles: [],
    });
  });
});

describe("missingGrants", () => {
  it("lists the scopes and roles the token lacks", () => {
    const decision = decide(rules, "GET", "/admin/users");
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
    ["a dot segment", [{ path: "/public/../admin" }]],
    ["a doubled slash", [{ path: "/a//b" }]],
    ["a ';'", [{ path: "/a;b" }]],
    ["an encoded slash", [{ path: "/a%2Fb/*" }]],
    ["a query", [{ path: "/a?b" }]],
  ])("refuses %s", (_name, raw) => {
    expect(() => parseRouteRules(raw, fail)).toThrow();
  });

  it("reads a rule's path as a request's: encoded and plain spellings are the same rule", () => {
    const [encoded, unicode] = parseRouteRules([{ path: "/%61pi/*" }, { path: "/über" }], fail);
    expect(encoded?.match).toBe("/api");
    expect(unicode?.match).toBe("/über");
    expect(decide(parseRouteRules([{ path: "/über", public: true }], fail), "GET", "/%C3%BCber").access).toBe("public");
  });
});

describe('revocation = "strict"', () => {
  it("marks a protected route's decision as strict", () => {
    const strict = parseRouteRules([{ path: "/payments/*", revocation: "strict", scopes: ["pay"] }], fail);
    expect(decide(strict, "POST", "/payments/1")).toEqual({
      access: "protected",
      scopes: ["pay"],
      roles: [],
      strictRevocation: true,
    });
    expect(decide(strict, "GET", "/other")).toEqual(PROTECTED);
  });

  it("keeps strictness when readings are joined", () => {
    const strict = parseRouteRules([{ path: "/payments/*", revocation: "strict" }], fail);
    expect(decide(strict, "GET", "/PAYMENTS/1")).toEqual({ ...PROTECTED, strictRevocation: true });
  });

  it("refuses another value, or strict revocation on a public route", () => {
    expect(() => parseRouteRules([{ path: "/pay/*", revocation: "eventual" }], fail)).toThrow(/only be "strict"/);
    expect(() => parseRouteRules([{ path: "/pay/*", revocation: true }], fail)).toThrow(/only be "strict"/);
    expect(() => parseRouteRules([{ path: "/pay/*", public: true, revocation: "strict" }], fail)).toThrow(
      /public and cannot have strict revocation/,
    );
  });
});

describe('dpop = "required"', () => {
  it("marks the decision, and keeps it under every spelling an upstream would route alike", () => {
    const rules = parseRouteRules([{ path: "/transfers/*", dpop: "required" }], fail);
    expect(decide(rules, "POST", "/transfers/1")).toEqual({ ...PROTECTED, dpop: true });
    expect(decide(rules, "GET", "/Transfers/1/")).toEqual({ ...PROTECTED, dpop: true });
    expect(decide(rules, "GET", "/other")).toEqual(PROTECTED);
  });

  it("joins with another rule's requirements when readings differ", () => {
    const rules = parseRouteRules(
      [
        { path: "/Transfers/*", scopes: ["pay"] },
        { path: "/transfers/*", dpop: "required" },
      ],
      fail,
    );
    expect(decide(rules, "GET", "/transfers/1")).toEqual({ ...PROTECTED, scopes: ["pay"], dpop: true });
  });

  it("refuses another value, or DPoP on a public route", () => {
    expect(() => parseRouteRules([{ path: "/t/*", dpop: "optional" }], fail)).toThrow(/"dpop" can only be "required"/);
    expect(() => parseRouteRules([{ path: "/t/*", dpop: true }], fail)).toThrow(/"dpop" can only be "required"/);
    expect(() => parseRouteRules([{ path: "/t/*", public: true, dpop: "required" }], fail)).toThrow(
      /public and cannot require DPoP/,
    );
  });
});

describe("explainRoute", () => {
  const table = parseRouteRules(
    [
      { path: "/health", public: true },
      { path: "/public/*", public: true },
      { path: "/admin/*", scopes: ["admin"] },
      { path: "/reports", methods: ["GET"], scopes: ["reports"] },
      { path: "/orders/*", methods: ["DELETE"], roles: ["operator"] },
    ],
    fail,
  );
  const requests: [string, string, DecideOptions][] = [
    ["GET", "/health", {}],
    ["GET", "/health/", {}],
    ["GET", "/PUBLIC/x", {}],
    ["GET", "/public/x", {}],
    ["GET", "/Admin/Users/", {}],
    ["HEAD", "/reports", {}],
    ["POST", "/orders/1", { postMayOverride: true }],
    ["POST", "/orders/1", { postMayOverride: false }],
    ["DELETE", "/orders/1", {}],
    ["GET", "/%61dmin/x", {}],
    ["GET", "/api/items", {}],
    ["PUT", "/reports", {}],
  ];

  it.each(requests)("agrees with decideRoute: %s %s %j", (method, path, options) => {
    const canonical = canonicalPath(path);
    if (!canonical.ok) throw new Error(canonical.refusal);
    const explained = explainRoute(table, method, canonical.readings, options);
    expect(explained.decision).toEqual(decideRoute(table, method, canonical.readings, options));
  });

  it("says which rule decided each reading, and why the others did not", () => {
    const explained = explainRoute(table, "GET", ["/Admin/Users/"]);
    expect(explained.readings.map((reading) => [reading.how, reading.path, reading.deciding])).toEqual([
      ["as written", "/Admin/Users/", undefined],
      ["without trailing slashes", "/Admin/Users", undefined],
      ["in lower case", "/admin/users/", 2],
      ["in lower case, without trailing slashes", "/admin/users", 2],
    ]);
    expect(explained.readings[2]?.tried.map((rule) => rule.why)).toEqual([
      "the path is not /health",
      "the path is not /public or below it",
      "the path matches",
    ]);
  });
});
