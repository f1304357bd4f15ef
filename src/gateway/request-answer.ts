/**
 * The answer a client gets, worked out rather than served: `portcullis explain` and
 * `portcullis test-routes` say what the Worker would answer a request from how far the
 * request got (its canonical form, the gateway's own paths, the route's explanation) and
 * who sent it. It follows the Worker's order (gateway/envelope.ts, app.ts, gateway.ts,
 * login-redirect.ts) and its one mapping of codes to statuses (errors/problem.ts); the CLI's
 * tests send the same requests to the bundled Worker and compare.
 *
 * What it cannot know is left out and said so by the caller: a token's signature, whether
 * its session was revoked, what the upstream answers.
 */
import type { PathRefusal } from "../canonical/canonical-path";
import type { GatewayErrorCode } from "../errors/gateway-error";
import { statusOf } from "../errors/problem";
import { unmetRequirement } from "../policy/authentication-requirement";
import { failedCondition, missingFacts } from "../policy/check-condition";
import type { RequestCf } from "../policy/route-condition";
import type { RouteExplanation } from "../policy/route-explain";
import { acceptsIssuer } from "../policy/route-matching";
import { missingGrants } from "../policy/route-policy";
import type { AccessTokenClaims } from "../tokens/access-token-claims";
import { redirectsToLogin } from "./login-redirect";

/** How far a request gets before a route rule is asked, and what decided it there. */
export type JudgedRequest =
  /** A development config on a host that is not this machine's (config/development-guard.ts). */
  | { readonly stage: "not_servable"; readonly detail: string }
  /** The path has no canonical form (canonical/canonical-path.ts). */
  | { readonly stage: "path_refused"; readonly refusal: PathRefusal }
  /** A method override naming another method (canonical/method-override.ts). */
  | { readonly stage: "method_override"; readonly named: string }
  /** Another spelling of one of the gateway's own endpoints (auth/routes.ts). */
  | { readonly stage: "endpoint_lookalike" }
  /** One of the gateway's own endpoints; `allow` when it does not take this method (405). */
  | { readonly stage: "own_endpoint"; readonly endpoint: string; readonly allow?: string }
  /** A reading of the upstream's credential check path, never proxied. */
  | { readonly stage: "credential_check" }
  /** Decided by the route rules. */
  | { readonly stage: "routed"; readonly explanation: RouteExplanation };

/** Why a request has no usable token. */
export type UnauthenticatedCode =
  | "insufficient_user_authentication"
  | "token_missing"
  | "token_malformed"
  | "token_invalid"
  | "token_expired"
  | "token_revoked";

/** Who sent the request, as far as the gateway can tell. */
export type RequestIdentity =
  | { readonly kind: "none" }
  /** A token the gateway refuses before any rule's grants are compared. */
  | {
      readonly kind: "refused";
      readonly code: Exclude<UnauthenticatedCode, "token_missing" | "insufficient_user_authentication">;
      readonly why: string;
    }
  | { readonly kind: "valid"; readonly claims: AccessTokenClaims };

export interface AnswerOptions {
  /** OIDC login is on (`OIDC_ISSUER`), and whether it redirects browser navigations (`OIDC_LOGIN_REDIRECT`). */
  /** Where a navigation is sent to sign in (the one provider's login, or the chooser). */
  readonly oidc: { readonly loginRedirect: boolean; readonly loginPath?: string } | undefined;
  /** The request is a browser navigation (gateway/login-redirect.ts `isNavigation`). */
  readonly navigation: boolean;
  /** The canonical path starts with /auth/ (no login redirect there). */
  readonly underAuth: boolean;
  /** The client address, as the Worker reads it: the request's `CF-Connecting-IP`. */
  readonly clientIp?: string | undefined;
  /** `request.cf` as given (`--cf`, a case's `cf`); undefined: none, as a request without it. */
  readonly cf?: RequestCf | undefined;
  /** Seconds since the epoch, for a route's `max_auth_age`; and the clock tolerance. */
  readonly nowSeconds?: number;
  readonly clockToleranceSeconds?: number;
}

export type RequestAnswer =
  /**
   * Sent to the upstream, whose answer the client gets. `public`: no token was needed.
   * `assumes`: the services whose decision the route asks, which cannot be asked here and
   * are assumed to allow (the Worker refuses 403 if one denies, 503 if it does not answer).
   */
  | {
      readonly outcome: "forwarded";
      readonly public: boolean;
      readonly why: string;
      readonly assumes?: readonly string[];
    }
  /** Answered by one of the gateway's own endpoints (login, refresh, JWKS, …). */
  | { readonly outcome: "endpoint"; readonly why: string }
  | {
      readonly outcome: "refused";
      readonly status: number;
      /** The refusal's code (errors/problem.ts maps it); undefined for a bare 404 or the 302 to the login. */
      readonly code: GatewayErrorCode | undefined;
      readonly why: string;
      /** For `insufficient_scope`: the scopes named in the challenge. */
      readonly requiredScopes?: readonly string[];
      /** For a 405: the methods the endpoint takes. */
      readonly allow?: string;
      /** A 302 to the OIDC login. */
      readonly loginRedirect?: true;
    };

function refused(
  code: GatewayErrorCode,
  why: string,
  extra: { requiredScopes?: readonly string[]; allow?: string } = {},
): RequestAnswer {
  return { outcome: "refused", status: statusOf(code), code, why, ...extra };
}

const NOT_FOUND = (why: string): RequestAnswer => ({ outcome: "refused", status: 404, code: undefined, why });

/** The answer to a request that got as far as `judged`, sent by `identity`. */
export function answerFor(judged: JudgedRequest, identity: RequestIdentity, options: AnswerOptions): RequestAnswer {
  switch (judged.stage) {
    case "not_servable":
      return refused("misconfigured", judged.detail);
    case "path_refused":
      return refused("request_invalid", `the path has no canonical form (${judged.refusal})`);
    case "method_override":
      return refused("request_invalid", `the request names another method (${judged.named}) in a method override`);
    case "endpoint_lookalike":
      return NOT_FOUND("another spelling of one of the gateway's own endpoints is not found, never proxied");
    case "credential_check":
      return NOT_FOUND("the upstream's credential check path is never proxied, under any spelling");
    case "own_endpoint":
      return judged.allow === undefined
        ? { outcome: "endpoint", why: `answered by the gateway's own endpoint ${judged.endpoint}` }
        : refused("method_not_allowed", `${judged.endpoint} takes ${judged.allow}`, { allow: judged.allow });
    case "routed":
      return routedAnswer(judged.explanation, identity, options);
  }
}

function routedAnswer(explanation: RouteExplanation, identity: RequestIdentity, options: AnswerOptions): RequestAnswer {
  const route = explanation.decision;
  if (route.access === "public") return { outcome: "forwarded", public: true, why: "the route is public" };
  // Without a usable token (login-redirect.ts): a 302 to the login where OIDC is on and the
  // route or a browser navigation asks for it; a malformed token is a 401 whatever the request.
  const unauthenticated = (code: UnauthenticatedCode, why: string): RequestAnswer => {
    if (!redirectsToLogin(options.oidc, code, route, options)) return refused(code, why);
    const because =
      route.unauthenticated === "login"
        ? 'the route says unauthenticated = "login"'
        : code === "insufficient_user_authentication"
          ? "a browser navigation, with OIDC login on: sent to sign in again as the route asks"
          : "a browser navigation without a valid token, with OIDC login on";
    return { outcome: "refused", status: 302, code: undefined, why: `${why}; ${because}`, loginRedirect: true };
  };
  if (identity.kind === "none") {
    return unauthenticated("token_missing", "the route is protected and the request has no access token");
  }
  if (identity.kind === "refused") return unauthenticated(identity.code, identity.why);
  const { claims } = identity;
  if (!acceptsIssuer(route.issuers, claims.trustedIssuer)) {
    const issuer =
      claims.trustedIssuer === undefined ? "the gateway's own" : `trusted issuer ${claims.trustedIssuer}'s`;
    return unauthenticated("token_invalid", `the route does not accept ${issuer} tokens (issuers)`);
  }
  if (route.strictRevocation && claims.sid === undefined) {
    return unauthenticated("token_revoked", 'a revocation = "strict" route needs a token with a session (sid)');
  }
  if (route.dpop && claims.jkt === undefined) {
    return unauthenticated("token_invalid", 'a dpop = "required" route needs a DPoP-bound token (cnf.jkt)');
  }
  const missing = missingGrants(route, claims);
  if (missing.scopes.length > 0 || missing.roles.length > 0) {
    const lacks = [
      ...(missing.scopes.length > 0 ? [`scope ${missing.scopes.join(" ")}`] : []),
      ...(missing.roles.length > 0 ? [`role ${missing.roles.join(" ")}`] : []),
    ];
    return refused("insufficient_scope", `the token lacks ${lacks.join(" and ")}`, { requiredScopes: route.scopes });
  }
  if (route.conditions !== undefined) {
    const facts = { claims: claims.payload, clientIp: options.clientIp, cf: options.cf };
    const failed = failedCondition(route.conditions, facts);
    if (failed !== undefined) {
      const missing = missingFacts(failed.condition, facts);
      const unknown = missing.length > 0 ? ` (no ${missing.join(" or ")} given)` : "";
      const why = `the condition ${failed.condition.text} does not hold${unknown}`;
      return refused(failed.code, why, failed.code === "insufficient_scope" ? { requiredScopes: route.scopes } : {});
    }
  }
  if (route.authentication !== undefined) {
    const now = options.nowSeconds ?? Date.now() / 1000;
    const unmet = unmetRequirement(route.authentication, claims.payload, now, options.clockToleranceSeconds ?? 0);
    if (unmet !== undefined) {
      return unauthenticated("insufficient_user_authentication", `a step-up is needed: ${unmet.why}`);
    }
  }
  if (route.audienceConflict) {
    return refused(
      "request_invalid",
      "the path's readings are decided by route rules with different assertion audiences (assertion_audience)",
    );
  }
  const strict = route.strictRevocation ? " (and the session's object says it is alive)" : "";
  const bound = claims.jkt === undefined ? "" : " (with a DPoP proof by the key it is bound to)";
  const held =
    (route.conditions === undefined ? "" : ", and the route's conditions hold") +
    (route.authentication === undefined ? "" : ", and the sign-in is as recent and strong as the route asks");
  const forwarded = `the token has what the route requires${held}${bound}${strict}`;
  if (route.decisions === undefined) return { outcome: "forwarded", public: false, why: forwarded };
  // The Worker asks these last; nothing here can call them, so the answer says what it assumed.
  const assumes = [...new Set(route.decisions.map((decision) => decision.service))];
  const asks = route.decisions.map((decision) => `rule ${decision.rule} ${decision.text}`).join(", ");
  return {
    outcome: "forwarded",
    public: false,
    why: `${forwarded}; ${asks}, which is not asked here: assumed to allow (a denial is 403 access_denied, no answer 503)`,
    assumes,
  };
}
