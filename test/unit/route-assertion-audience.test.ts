/**
 * A route rule's `assertion_audience` (docs/upstream-assertion.md, "Audience per route"):
 * checked at config time, carried by the route's decision, and, where the readings of one
 * path are decided by rules naming different audiences, a conflict the gateway refuses.
 */
import { exportJWK, generateKeyPair } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { canonicalPath, STRICT_PATHS } from "../../src/canonical/canonical-path";
import type { ConfigEnv } from "../../src/config/env";
import { ConfigError, parseConfig } from "../../src/config/parse-config";
import { explainRoute } from "../../src/policy/route-explain";
import { decideRoute, parseRouteRules, type RouteRule } from "../../src/policy/route-policy";

const fail = (problem: string) => new Error(problem);
const BILLING = "https://billing.internal";
const LEDGER = "https://ledger.internal";

const rules = parseRouteRules(
  [
    { path: "/public/*", public: true },
    { path: "/billing/*", assertion_audience: BILLING, scopes: ["billing"] },
    { path: "/Billing/*", assertion_audience: LEDGER },
    { path: "/ledger/*", assertion_audience: LEDGER },
    { path: "/ledger-too/*", assertion_audience: LEDGER, roles: ["clerk"] },
    { path: "/invoices", assertion_audience: BILLING },
  ],
  fail,
);

function decide(list: readonly RouteRule[], method: string, path: string, postMayOverride = false) {
  const canonical = canonicalPath(path, STRICT_PATHS);
  if (!canonical.ok) throw new Error(`refused: ${canonical.refusal}`);
  return decideRoute(list, method, canonical.readings, { postMayOverride });
}

function refusalOf(raw: unknown): string | undefined {
  try {
    parseRouteRules(raw, fail);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

describe("assertion_audience in ROUTES", () => {
  it("is the decision's audience on the rule's paths, and absent elsewhere (UPSTREAM_ASSERTION_AUDIENCE)", () => {
    expect(decide(rules, "GET", "/billing/x")).toMatchObject({ assertionAudience: BILLING, scopes: ["billing"] });
    expect(decide(rules, "GET", "/ledger/x")).toMatchObject({ assertionAudience: LEDGER });
    expect(decide(rules, "GET", "/billing/Upper-Case")).not.toHaveProperty("audienceConflict");
    expect(decide(rules, "GET", "/api/x")).not.toHaveProperty("assertionAudience");
  });

  it("is refused on a public rule, which gets no assertion", () => {
    expect(refusalOf([{ path: "/p/*", public: true, assertion_audience: BILLING }])).toBe(
      'rule 0 (/p/*) is public, and a public route gets no assertion: remove "assertion_audience"',
    );
  });

  it("is refused when it is not a name without spaces or quotes", () => {
    for (const audience of ["", "two words", 'a"b', 42, ["x"]]) {
      expect(refusalOf([{ path: "/p/*", assertion_audience: audience }])).toBe(
        'rule 0 (/p/*): "assertion_audience" must be a name without spaces or quotes',
      );
    }
  });

  it("is refused under a near-miss spelling, naming the rule", () => {
    expect(refusalOf([{ path: "/p/*", assertion_audiences: BILLING }])).toMatch(
      /^rule 0 \(\/p\/\*\) .*assertion_audience/,
    );
  });
});

describe("readings decided by rules with different audiences", () => {
  it("are a conflict: a letter-case reading of another rule's path", () => {
    // As written /Billing/x is rule 2's (LEDGER); in lower case, rule 1's (BILLING).
    const decision = decide(rules, "GET", "/Billing/x");
    expect(decision).toMatchObject({ access: "protected", audienceConflict: true, scopes: ["billing"] });
  });

  it("are a conflict with the default audience: a reading no rule with an audience decides", () => {
    // As written, no rule matches /BILLING/x (the default: UPSTREAM_ASSERTION_AUDIENCE); in lower case, rule 1.
    expect(decide(rules, "GET", "/BILLING/x")).toMatchObject({ audienceConflict: true, scopes: ["billing"] });
    // The exact rule "/invoices" does not decide "/invoices/"; trimmed, it does.
    expect(decide(rules, "GET", "/invoices/")).toMatchObject({ audienceConflict: true });
  });

  it("are a conflict across the methods a POST may be overridden to", () => {
    const list = parseRouteRules(
      [
        { path: "/pay/*", methods: ["DELETE"], assertion_audience: LEDGER },
        { path: "/pay/*", assertion_audience: BILLING },
      ],
      fail,
    );
    expect(decide(list, "POST", "/pay/1")).toMatchObject({ assertionAudience: BILLING });
    expect(decide(list, "POST", "/pay/1")).not.toHaveProperty("audienceConflict");
    expect(decide(list, "POST", "/pay/1", true)).toMatchObject({ audienceConflict: true });
  });

  it("are no conflict when the rules name the same audience; their requirements are joined", () => {
    const list = parseRouteRules(
      [
        { path: "/ledger/*", assertion_audience: LEDGER },
        { path: "/Ledger/*", assertion_audience: LEDGER, roles: ["clerk"] },
      ],
      fail,
    );
    const decision = decide(list, "GET", "/Ledger/x");
    expect(decision).toMatchObject({ assertionAudience: LEDGER, roles: ["clerk"] });
    expect(decision).not.toHaveProperty("audienceConflict");
  });

  it("are explained as portcullis explain shows them: the same decision as the Worker's", () => {
    const canonical = canonicalPath("/Billing/x", STRICT_PATHS);
    if (!canonical.ok) throw new Error("refused");
    expect(explainRoute(rules, "GET", canonical.readings).decision).toEqual(decide(rules, "GET", "/Billing/x"));
  });
});

describe("assertion_audience and UPSTREAM_ASSERTION", () => {
  let signingKeys: string;
  beforeAll(async () => {
    const { privateKey } = await generateKeyPair("EdDSA", { extractable: true });
    signingKeys = JSON.stringify([{ ...(await exportJWK(privateKey)), kid: "k1", alg: "EdDSA" }]);
  });
  const parse = (env: Record<string, unknown>) =>
    parseConfig({
      PORTCULLIS_ENV: "production",
      UPSTREAM_URL: "https://api.internal.example",
      TOKEN_ISSUER: "https://auth.example.com",
      TOKEN_AUDIENCE: "example-api",
      SIGNING_KEYS: signingKeys,
      ROUTES: JSON.stringify([{ path: "/billing/*", assertion_audience: BILLING }]),
      ...env,
    } as unknown as ConfigEnv);

  it("is refused while UPSTREAM_ASSERTION is off: the route would get no assertion at all", () => {
    expect(() => parse({})).toThrow(ConfigError);
    expect(() => parse({})).toThrow(
      'ROUTES: rule 0 (/billing/*) has "assertion_audience" but UPSTREAM_ASSERTION is not true',
    );
  });

  it("is taken with UPSTREAM_ASSERTION on", () => {
    expect(parse({ UPSTREAM_ASSERTION: "true" }).routes[0]?.assertionAudience).toBe(BILLING);
  });
});
