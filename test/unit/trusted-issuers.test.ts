/**
 * TRUSTED_ISSUERS and the `issuers` rule key, checked at config time: every refusal names
 * the issuer, and a route's readings join to the issuers they all accept.
 */
import { describe, expect, it } from "vitest";
import { identityFromClaims } from "../../src/cli/identity";
import { ruleText } from "../../src/cli/route-table";
import { parseConfig } from "../../src/config/parse-config";
import { TRUSTED_ISSUER_KEYS } from "../../src/config/parse-trusted-issuers";
import { answerFor } from "../../src/gateway/request-answer";
import { explainRoute } from "../../src/policy/route-explain";
import { acceptsIssuer } from "../../src/policy/route-matching";
import { decideRoute, parseRouteRules, strictest } from "../../src/policy/route-policy";
import { issuerRefusal, PRODUCTION_BASE, parseWithIssuers } from "../support/issuer-config";

const GITHUB = {
  id: "github-actions",
  issuer: "https://token.actions.githubusercontent.com",
  jwks_url: "https://token.actions.githubusercontent.com/.well-known/jwks",
  audience: "https://api.example.com",
};

const base = PRODUCTION_BASE;
const parse = parseWithIssuers;
const refusal = issuerRefusal;

describe("TRUSTED_ISSUERS", () => {
  it("applies the defaults: all three asymmetric algorithms, the id as subject prefix, scope and roles claims", () => {
    const [github] = parse([GITHUB]).trustedIssuers;
    expect(github).toEqual({
      id: "github-actions",
      issuer: GITHUB.issuer,
      jwksUrl: GITHUB.jwks_url,
      audience: [GITHUB.audience],
      algorithms: ["RS256", "ES256", "EdDSA"],
      subjectPrefix: "github-actions|",
      scopeClaim: "scope",
      rolesClaim: "roles",
      maxTokenAge: undefined,
    });
    expect(Object.isFrozen(github)).toBe(true);
    expect(parseConfig(base).trustedIssuers).toEqual([]);
  });

  it("refuses an unknown key with the nearest known one, naming the issuer", () => {
    expect(refusal([{ ...GITHUB, audiences: "x" }])).toBe(
      'TRUSTED_ISSUERS: issuer 0 (github-actions) has "audiences"; did you mean "audience"?',
    );
    expect(refusal([{ ...GITHUB, subject: "x" }])).toMatch(
      /issuer 0 \(github-actions\) has "subject", which is not one of "id"/,
    );
  });

  it("requires an audience (RFC 8725 §3.9), an issuer, a jwks_url and a well-formed id", () => {
    const { audience: _, ...noAudience } = GITHUB;
    expect(refusal([noAudience])).toMatch(/issuer 0 \(github-actions\) needs an "audience"/);
    expect(refusal([{ ...GITHUB, audience: [] }])).toMatch(/needs an "audience"/);
    expect(refusal([{ ...GITHUB, issuer: "" }])).toMatch(/needs an "issuer"/);
    expect(refusal([{ ...GITHUB, jwks_url: undefined }])).toMatch(/needs a "jwks_url"/);
    expect(refusal([{ ...GITHUB, id: "GitHub Actions" }])).toMatch(/issuer 0 needs an "id"/);
    expect(refusal([{ ...GITHUB, id: "self" }])).toMatch(/cannot use the id "self"/);
    expect(refusal({ id: "x" })).toMatch(/must be a list of issuers/);
  });

  it("refuses symmetric algorithms and none", () => {
    expect(refusal([{ ...GITHUB, algorithms: ["HS256"] }])).toMatch(
      /"algorithms" must be a list of "RS256", "ES256", "EdDSA"/,
    );
    expect(refusal([{ ...GITHUB, algorithms: ["none"] }])).toMatch(/"algorithms"/);
    expect(refusal([{ ...GITHUB, algorithms: [] }])).toMatch(/"algorithms"/);
  });

  it("wants an https jwks_url in production and takes http only in development", () => {
    const local = { ...GITHUB, jwks_url: "http://127.0.0.1:9999/jwks" };
    expect(refusal([local])).toMatch(/"jwks_url" must be https in production/);
    expect(parse([local], { PORTCULLIS_ENV: "development" }).trustedIssuers[0]?.jwksUrl).toBe(local.jwks_url);
    expect(refusal([{ ...GITHUB, jwks_url: "https://user:pw@example.com/jwks" }])).toMatch(/without credentials/);
  });

  it("refuses two issuers with one id, one iss, one key set, or subject prefixes that could meet", () => {
    const other = {
      ...GITHUB,
      id: "other",
      issuer: "https://other.example.com",
      jwks_url: "https://other.example.com/jwks",
    };
    expect(parse([GITHUB, other]).trustedIssuers).toHaveLength(2);
    expect(refusal([GITHUB, { ...other, id: GITHUB.id }])).toMatch(
      /issuer 1 \(github-actions\) has the id of another issuer/,
    );
    expect(refusal([GITHUB, { ...other, issuer: GITHUB.issuer }])).toMatch(
      /issuer 1 \(other\) has the "issuer" of github-actions/,
    );
    expect(refusal([GITHUB, { ...other, jwks_url: GITHUB.jwks_url }])).toMatch(/has the "jwks_url" of github-actions/);
    expect(
      refusal([
        { ...GITHUB, subject_prefix: "ci|" },
        { ...other, subject_prefix: "ci|x|" },
      ]),
    ).toMatch(/issuer 1 \(other\): "subject_prefix" ci\|x\| and github-actions's ci\| could make the same subject/);
  });

  it("refuses the gateway's own issuer, JWKS_URL's key set and the OIDC subject prefix", () => {
    expect(refusal([{ ...GITHUB, issuer: base.TOKEN_ISSUER }])).toMatch(/has the "issuer" of TOKEN_ISSUER/);
    expect(refusal([GITHUB], { JWKS_URL: GITHUB.jwks_url })).toMatch(/has the "jwks_url" of JWKS_URL/);
    const oidc = {
      OIDC_ISSUER: "https://idp.example.com",
      OIDC_CLIENT_ID: "gateway",
      OIDC_CLIENT_SECRET: "an-oidc-client-secret-long-enough-0123",
      OIDC_SEALING_SECRET: "an-oidc-sealing-secret-long-enough-0123",
      IDP_LOGOUT_INDEX: {},
    };
    expect(refusal([{ ...GITHUB, subject_prefix: "oidc|" }], oidc)).toMatch(
      /could make the same subject as OIDC_SUBJECT_PREFIX/,
    );
  });

  it("refuses a subject prefix that could name a service client (svc|)", () => {
    expect(refusal([{ ...GITHUB, subject_prefix: "svc|" }])).toMatch(/could make the same subject as a service client/);
    expect(refusal([{ ...GITHUB, id: "svc", subject_prefix: undefined }])).toMatch(/as a service client/);
    expect(refusal([{ ...GITHUB, subject_prefix: "s" }])).toMatch(/as a service client/);
  });

  it("checks max_token_age, scope_claim and roles_claim", () => {
    expect(refusal([{ ...GITHUB, max_token_age: 0 }])).toMatch(/"max_token_age" must be a whole number/);
    expect(refusal([{ ...GITHUB, max_token_age: "1h" }])).toMatch(/"max_token_age"/);
    expect(refusal([{ ...GITHUB, scope_claim: "" }])).toMatch(/"scope_claim" must be a claim name/);
    expect(parse([{ ...GITHUB, roles_claim: "groups", max_token_age: 600 }]).trustedIssuers[0]).toMatchObject({
      rolesClaim: "groups",
      maxTokenAge: 600,
    });
  });

  it("describes every key it accepts", () => {
    expect(Object.keys(TRUSTED_ISSUER_KEYS)).toEqual([
      "id",
      "issuer",
      "jwks_url",
      "audience",
      "algorithms",
      "subject_prefix",
      "scope_claim",
      "roles_claim",
      "max_token_age",
      "introspection",
    ]);
  });
});

describe("the issuers rule key", () => {
  const fail = (problem: string) => new Error(problem);
  const known = { issuers: ["github-actions", "cluster"] };

  it("names only self and configured issuers, with a near miss", () => {
    expect(() => parseRouteRules([{ path: "/deploy/*", issuers: ["github-action"] }], fail, known)).toThrow(
      'rule 0 (/deploy/*): "issuers" names "github-action", which is not "self" or an id of TRUSTED_ISSUERS; did you mean "github-actions"?',
    );
    expect(() => parseRouteRules([{ path: "/deploy/*", issuers: [] }], fail, known)).toThrow(/must be a list/);
    expect(() => parseRouteRules([{ path: "/deploy/*", issuers: "cluster" }], fail, known)).toThrow(/must be a list/);
    expect(() => parseRouteRules([{ path: "/x", public: true, issuers: ["cluster"] }], fail, known)).toThrow(
      /public and cannot name "issuers"/,
    );
    expect(() => parseRouteRules([{ path: "/deploy/*", issuers: ["cluster"] }], fail)).toThrow(/not "self"/);
  });

  it("leaves a rule without it (or with just self) to the gateway's own tokens", () => {
    const rules = parseRouteRules(
      [
        { path: "/ci/*", issuers: ["self", "github-actions"] },
        { path: "/mine/*", issuers: ["self"] },
        { path: "/api/*" },
      ],
      fail,
      known,
    );
    const ci = decideRoute(rules, "GET", ["/ci/x"]);
    const mine = decideRoute(rules, "GET", ["/mine/x"]);
    const api = decideRoute(rules, "GET", ["/api/x"]);
    if (ci.access !== "protected" || mine.access !== "protected" || api.access !== "protected") throw new Error();
    expect(ci.issuers).toEqual(["self", "github-actions"]);
    expect(mine.issuers).toBeUndefined();
    expect(api.issuers).toBeUndefined();
    expect(acceptsIssuer(ci.issuers, "github-actions")).toBe(true);
    expect(acceptsIssuer(ci.issuers, undefined)).toBe(true);
    expect(acceptsIssuer(api.issuers, "github-actions")).toBe(false);
    expect(acceptsIssuer(api.issuers, undefined)).toBe(true);
  });

  it("joins a path's readings to the issuers they all accept", () => {
    const rules = parseRouteRules(
      [
        { path: "/a/*", issuers: ["github-actions", "cluster"] },
        { path: "/b/*", issuers: ["self", "github-actions"] },
        { path: "/ci/*", issuers: ["github-actions"] },
      ],
      fail,
      known,
    );
    // A path with two readings ("/a%2Fx" with ALLOW_ENCODED_SLASHES) gets both rules: only github-actions is in both.
    const both = decideRoute(rules, "GET", ["/a/x", "/b/x"]);
    expect(both.access === "protected" && both.issuers).toEqual(["github-actions"]);
    const [ci, plain] = [decideRoute(rules, "GET", ["/ci/x"]), decideRoute(rules, "GET", ["/api/x"])];
    // A default rule (self alone) joined with one that names only another issuer accepts no token at all.
    const none = strictest(ci, plain);
    expect(none.access === "protected" && none.issuers).toEqual([]);
    expect(strictest(plain, ci)).toEqual(none);
    // Public joined with either keeps the protected side's issuers.
    expect(strictest({ access: "public" }, ci)).toBe(ci);
  });
});

describe("portcullis explain and test-routes", () => {
  const fail = (problem: string) => new Error(problem);
  const config = parse([{ ...GITHUB, subject_prefix: "gha|" }], {
    ROUTES: JSON.stringify([
      { path: "/deploy/*", issuers: ["github-actions"], require: { claim: "repository", equals: "acme/api" } },
      { path: "/ci/*", issuers: ["self", "github-actions"] },
    ]),
  });
  const routed = (path: string) => ({
    stage: "routed" as const,
    explanation: explainRoute(config.routes, "GET", [path]),
  });
  const options = { oidc: undefined, navigation: false, underAuth: false };

  it("shows a rule's issuers in the route table", () => {
    const rules = parseRouteRules([{ path: "/ci/*", issuers: ["self", "github-actions"] }], fail, {
      issuers: ["github-actions"],
    });
    expect(ruleText(rules, 0)).toBe("rule 0 (/ci/*: a valid token; issuers self github-actions)");
  });

  it("judges --claims with a trusted issuer's iss as that issuer's token, on its routes only", () => {
    const ci = identityFromClaims(
      { iss: GITHUB.issuer, sub: "repo:acme/api:ref:refs/heads/main", repository: "acme/api" },
      config,
      Date.now(),
    );
    expect(ci.identity.kind === "valid" && ci.identity.claims).toMatchObject({
      sub: "gha|repo:acme/api:ref:refs/heads/main",
      sid: undefined,
      trustedIssuer: "github-actions",
    });
    expect(answerFor(routed("/deploy/x"), ci.identity, options)).toMatchObject({ outcome: "forwarded" });
    expect(answerFor(routed("/ci/x"), ci.identity, options)).toMatchObject({ outcome: "forwarded" });
    expect(answerFor(routed("/api/x"), ci.identity, options)).toMatchObject({ status: 401, code: "token_invalid" });
    const own = identityFromClaims({}, config, Date.now());
    expect(answerFor(routed("/deploy/x"), own.identity, options)).toMatchObject({ status: 401, code: "token_invalid" });
    expect(answerFor(routed("/ci/x"), own.identity, options)).toMatchObject({ outcome: "forwarded" });
  });
});
