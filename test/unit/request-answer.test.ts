/**
 * The answer `portcullis explain` and `test-routes` give (gateway/request-answer.ts), for
 * what the CLI's integration tests cannot ask a gateway without an identity provider: the
 * 302 to the OIDC login and what a route's `unauthenticated` says, and the refusals before
 * any rule. The rest is compared with the bundled Worker in test/integration/cli-explain.test.ts.
 */
import { describe, expect, it } from "vitest";
import { type AnswerOptions, answerFor, type RequestIdentity } from "../../src/gateway/request-answer";
import { explainRoute } from "../../src/policy/route-explain";
import { parseRouteRules } from "../../src/policy/route-rules";
import { readClaims } from "../../src/tokens/access-token-claims";

const rules = parseRouteRules(
  [
    { path: "/public/*", public: true },
    { path: "/api/*", unauthenticated: "challenge" },
    { path: "/app/*", unauthenticated: "login" },
    { path: "/admin/*", scopes: ["admin"], roles: ["operator"] },
    { path: "/payments/*", revocation: "strict" },
    { path: "/billing/*", max_auth_age: 300, acr: ["urn:mfa"] },
  ],
  (problem) => new Error(problem),
);

const routed = (method: string, path: string) => ({
  stage: "routed" as const,
  explanation: explainRoute(rules, method, [path]),
});

const NONE: RequestIdentity = { kind: "none" };
const OIDC: AnswerOptions = { oidc: { loginRedirect: true }, navigation: true, underAuth: false };
const NO_OIDC: AnswerOptions = { oidc: undefined, navigation: true, underAuth: false };

function token(claims: Record<string, unknown>): RequestIdentity {
  const read = readClaims({ iss: "https://gateway.test", sub: "alice", iat: 1, exp: 2, ...claims });
  if (read === undefined) throw new Error("claims do not read");
  return { kind: "valid", claims: read };
}

describe("answerFor, step-up", () => {
  const now = 1_800_000_000;
  const at = { ...NO_OIDC, navigation: false, nowSeconds: now, clockToleranceSeconds: 0 };

  it("forwards a recent sign-in at the level asked for", () => {
    const strong = token({ auth_time: now - 60, acr: "urn:mfa" });
    expect(answerFor(routed("GET", "/billing/x"), strong, at)).toMatchObject({ outcome: "forwarded" });
  });

  it("refuses an old or weaker one 401 insufficient_user_authentication, saying why", () => {
    const old = answerFor(routed("GET", "/billing/x"), token({ auth_time: now - 301, acr: "urn:mfa" }), at);
    expect(old).toMatchObject({ status: 401, code: "insufficient_user_authentication" });
    expect(old.why).toContain("more than max_auth_age 300");
    const weak = answerFor(routed("GET", "/billing/x"), token({ auth_time: now, acr: "urn:pwd" }), at);
    expect(weak.why).toContain("acr (urn:pwd) is not one of [urn:mfa]");
  });

  it("sends a browser navigation to the login instead, with OIDC on", () => {
    const weak = token({ auth_time: now, acr: "urn:pwd" });
    expect(
      answerFor(routed("GET", "/billing/x"), weak, { ...at, oidc: { loginRedirect: true }, navigation: true }),
    ).toMatchObject({
      status: 302,
      loginRedirect: true,
    });
  });
});

describe("answerFor", () => {
  it("forwards a public route, and refuses a protected one without a token 401 token_missing", () => {
    expect(answerFor(routed("GET", "/public/a"), NONE, NO_OIDC)).toMatchObject({ outcome: "forwarded", public: true });
    expect(answerFor(routed("GET", "/other"), NONE, NO_OIDC)).toMatchObject({ status: 401, code: "token_missing" });
  });

  it("sends a browser navigation to the OIDC login, unless the route says challenge", () => {
    expect(answerFor(routed("GET", "/other"), NONE, OIDC)).toMatchObject({ status: 302, loginRedirect: true });
    expect(answerFor(routed("GET", "/api/x"), NONE, OIDC)).toMatchObject({ status: 401, code: "token_missing" });
    expect(answerFor(routed("GET", "/other"), NONE, { ...OIDC, navigation: false })).toMatchObject({ status: 401 });
    expect(answerFor(routed("GET", "/other"), NONE, { ...OIDC, underAuth: true })).toMatchObject({ status: 401 });
  });

  it('redirects every request without a valid token on an unauthenticated = "login" route, but a malformed token', () => {
    const fetch = { ...OIDC, navigation: false };
    expect(answerFor(routed("POST", "/app/x"), NONE, fetch)).toMatchObject({ status: 302 });
    const expired: RequestIdentity = { kind: "refused", code: "token_expired", why: "expired" };
    expect(answerFor(routed("POST", "/app/x"), expired, fetch)).toMatchObject({ status: 302 });
    const malformed: RequestIdentity = { kind: "refused", code: "token_malformed", why: "not a JWT" };
    expect(answerFor(routed("POST", "/app/x"), malformed, fetch)).toMatchObject({
      status: 401,
      code: "token_malformed",
    });
  });

  it("names every scope and role a token lacks, and needs a session on a strict route", () => {
    const answer = answerFor(routed("GET", "/admin/x"), token({ scope: "read" }), NO_OIDC);
    expect(answer).toMatchObject({ status: 403, code: "insufficient_scope", requiredScopes: ["admin"] });
    expect(answer.why).toBe("the token lacks scope admin and role operator");
    const admin = token({ scope: "admin", roles: ["operator"] });
    expect(answerFor(routed("GET", "/admin/x"), admin, NO_OIDC)).toMatchObject({ outcome: "forwarded", public: false });
    expect(answerFor(routed("GET", "/payments/1"), token({}), NO_OIDC)).toMatchObject({ code: "token_revoked" });
    expect(answerFor(routed("GET", "/payments/1"), token({ sid: "s1" }), NO_OIDC)).toMatchObject({
      outcome: "forwarded",
    });
  });

  it("answers the steps before the rules: 400, 404, 405, the gateway's own endpoints, 503", () => {
    expect(answerFor({ stage: "path_refused", refusal: "empty_segment" }, NONE, NO_OIDC)).toMatchObject({
      status: 400,
      code: "request_invalid",
    });
    expect(answerFor({ stage: "method_override", named: "DELETE" }, NONE, NO_OIDC)).toMatchObject({ status: 400 });
    expect(answerFor({ stage: "endpoint_lookalike" }, NONE, NO_OIDC)).toMatchObject({ status: 404, code: undefined });
    expect(answerFor({ stage: "credential_check" }, NONE, NO_OIDC)).toMatchObject({ status: 404 });
    expect(answerFor({ stage: "own_endpoint", endpoint: "/auth/login", allow: "POST" }, NONE, NO_OIDC)).toMatchObject({
      status: 405,
      allow: "POST",
    });
    expect(answerFor({ stage: "own_endpoint", endpoint: "POST /auth/login" }, NONE, NO_OIDC)).toMatchObject({
      outcome: "endpoint",
    });
    expect(answerFor({ stage: "not_servable", detail: "x" }, NONE, NO_OIDC)).toMatchObject({ status: 503 });
  });
});
