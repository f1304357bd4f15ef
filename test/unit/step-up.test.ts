/**
 * Step-up rules (docs/policy.md, "Step-up"): `max_auth_age`, `acr` and `amr` are checked
 * once at config time, merged over every reading of a path as the strictest, judged on the
 * token's payload, and turned into RFC 9470's challenge; and the identity claims a login
 * reports are kept only when they are safe in a token.
 */
import { describe, expect, it } from "vitest";
import { GatewayError } from "../../src/errors/gateway-error";
import { problemResponse } from "../../src/errors/problem";
import { stepUpFor, unmetRequirement } from "../../src/policy/authentication-requirement";
import { decideRoute } from "../../src/policy/route-policy";
import { parseRouteRules } from "../../src/policy/route-rules";
import { identityClaimsOf } from "../../src/tokens/identity-claims";

const fail = (problem: string) => new Error(problem);
const parse = (rules: unknown) => parseRouteRules(rules, fail);
const NOW = 1_800_000_000;

function requirementsOf(rules: unknown, path = "/billing/x", readings = [path]) {
  const decision = decideRoute(parse(rules), "GET", readings);
  if (decision.access !== "protected") throw new Error("expected a protected decision");
  return decision.authentication ?? [];
}

describe("parsing", () => {
  it.each([
    [{ max_auth_age: -1 }, 'rule 0 (/b): "max_auth_age" must be a whole number of seconds from 0 to 31536000'],
    [{ max_auth_age: 1.5 }, '"max_auth_age" must be a whole number'],
    [{ max_auth_age: "900" }, '"max_auth_age" must be a whole number'],
    [{ max_auth_age: 31_536_001 }, '"max_auth_age" must be a whole number'],
    [{ acr: "mfa" }, 'rule 0 (/b): "acr" must be a list of 1 to 16 values'],
    [{ acr: [] }, '"acr" must be a list'],
    [{ acr: ["two words"] }, '"acr" must be a list'],
    [{ acr: ['say"hi'] }, '"acr" must be a list'],
    [{ amr: [1] }, '"amr" must be a list'],
    [{ public: true, max_auth_age: 60 }, "rule 0 is public and cannot require a recent or stronger sign-in"],
    [{ Max_Auth_Age: 60 }, 'did you mean "max_auth_age"?'],
  ])("refuses %j", (extra, message) => {
    expect(() => parse([{ path: "/b", ...extra }])).toThrow(message);
  });

  it("keeps what the rule says, in words too", () => {
    const [requirement] = requirementsOf([
      { path: "/billing/*", max_auth_age: 300, acr: ["urn:mfa"], amr: ["otp", "hwk"] },
    ]);
    expect(requirement).toMatchObject({ maxAge: 300, acr: ["urn:mfa"], amr: ["otp", "hwk"] });
    expect(requirement?.text).toBe("max_auth_age 300, acr one of [urn:mfa], amr holds one of [otp hwk]");
  });

  it("merges every reading's rule: a case spelling cannot dodge the step-up", () => {
    const rules = [
      { path: "/billing/*", max_auth_age: 300 },
      { path: "/Billing/*", acr: ["urn:mfa"] },
    ];
    const requirements = requirementsOf(rules, "/Billing/x", ["/Billing/x"]);
    expect(requirements.map((requirement) => requirement.text)).toEqual(["acr one of [urn:mfa]", "max_auth_age 300"]);
  });
});

describe("judging a token", () => {
  const [recent] = requirementsOf([{ path: "/billing/*", max_auth_age: 300 }]);
  const [strong] = requirementsOf([{ path: "/billing/*", acr: ["urn:mfa", "urn:hwk"], amr: ["otp"] }]);
  const unmet = (requirement: typeof recent, payload: Record<string, unknown>) =>
    unmetRequirement(requirement ? [requirement] : [], payload, NOW, 5)?.why;

  it("max_auth_age reads auth_time, with the clock tolerance", () => {
    expect(unmet(recent, { auth_time: NOW - 300 })).toBeUndefined();
    expect(unmet(recent, { auth_time: NOW - 305 })).toBeUndefined();
    expect(unmet(recent, { auth_time: NOW - 306 })).toBe("the user signed in 306 s ago, more than max_auth_age 300");
  });

  it("prefers the provider's earlier sign-in (idp_auth_time) to the session's start", () => {
    expect(unmet(recent, { auth_time: NOW - 10, idp_auth_time: NOW - 3600 })).toMatch(/3600 s ago/);
    expect(unmet(recent, { auth_time: NOW - 10, idp_auth_time: NOW - 20 })).toBeUndefined();
  });

  it("a token that does not say when the user signed in falls short; iat does not count", () => {
    expect(unmet(recent, { iat: NOW })).toMatch(/no auth_time/);
    expect(unmet(recent, { auth_time: "yesterday", iat: NOW })).toMatch(/no auth_time/);
  });

  it("acr must be one of the values, amr must hold one of them", () => {
    expect(unmet(strong, { acr: "urn:hwk", amr: ["pwd", "otp"] })).toBeUndefined();
    expect(unmet(strong, { acr: "urn:pwd", amr: ["otp"] })).toMatch(/acr \(urn:pwd\) is not one of/);
    expect(unmet(strong, { amr: ["otp"] })).toMatch(/acr \(none\)/);
    expect(unmet(strong, { acr: ["urn:mfa"], amr: ["otp"] })).toMatch(/acr \(none\)/);
    expect(unmet(strong, { acr: "urn:mfa", amr: ["pwd"] })).toMatch(/amr holds none of \[otp\]/);
    expect(unmet(strong, { acr: "urn:mfa", amr: "otp" })).toMatch(/amr holds none/);
  });
});

describe("what a new sign-in is asked for", () => {
  it("the shortest age and the acr values every rule accepts", () => {
    const requirements = requirementsOf(
      [
        { path: "/billing/*", max_auth_age: 900, acr: ["urn:mfa", "urn:hwk"] },
        { path: "/Billing/*", max_auth_age: 60, acr: ["urn:hwk"] },
      ],
      "/Billing/x",
    );
    expect(stepUpFor(requirements)).toEqual({ maxAge: 60, acrValues: ["urn:hwk"] });
  });

  it("an amr alone asks for a fresh sign-in", () => {
    expect(stepUpFor(requirementsOf([{ path: "/billing/*", amr: ["hwk"] }]))).toEqual({ maxAge: 0 });
  });

  it("is RFC 9470's challenge, and the problem says it too", async () => {
    const error = new GatewayError("insufficient_user_authentication", {
      stepUp: { maxAge: 300, acrValues: ["urn:mfa", "urn:hwk"] },
    });
    const response = problemResponse(error, { realm: "api", requestId: "r1" });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toBe(
      'Bearer realm="api", error="insufficient_user_authentication", error_description="A stronger sign-in is required", acr_values="urn:mfa urn:hwk", max_age="300"',
    );
    expect(await response.json()).toMatchObject({
      error: "insufficient_user_authentication",
      max_age: 300,
      acr_values: "urn:mfa urn:hwk",
    });
  });
});

describe("identity claims a login reports", () => {
  it("keeps email, email_verified, acr and amr when they are safe in a token", () => {
    expect(
      identityClaimsOf({
        sub: "alice",
        email: "alice@example.com",
        email_verified: true,
        acr: "urn:mfa",
        amr: ["pwd", "otp", "otp"],
        name: "Alice",
      }),
    ).toEqual({ email: "alice@example.com", email_verified: true, acr: "urn:mfa", amr: ["pwd", "otp"] });
  });

  it("drops what is not", () => {
    expect(
      identityClaimsOf({
        email: "not an email",
        email_verified: "true",
        acr: "has space",
        amr: ["ok", "bad\nline", 3, "x".repeat(65)],
      }),
    ).toEqual({ amr: ["ok"] });
    expect(identityClaimsOf({ email: `${"a".repeat(250)}@b.co`, acr: 1, amr: "pwd" })).toEqual({});
    // email_verified without an email says nothing.
    expect(identityClaimsOf({ email_verified: true })).toEqual({});
  });
});
