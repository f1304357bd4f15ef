/**
 * One rule of the ROUTES setting, as route-rules.ts parses it and every reader of the rules
 * (matching, explanation, overlap) takes it.
 */
import type { AuthenticationRequirement } from "./authentication-requirement";
import type { ExternalDecision } from "./external-decision";
import type { Condition } from "./route-condition";

export interface RouteRule {
  /** Exact path ("/health"), prefix ("/api/*" matches "/api" and everything below) or "*". */
  readonly path: string;
  /** The decoded path (or prefix, without "/*") requests are matched against. */
  readonly match: string;
  /** Upper-case methods this rule applies to; all methods when absent. */
  readonly methods?: readonly string[];
  readonly public?: boolean;
  /** Every one of these must be in the token's `scope`. */
  readonly scopes?: readonly string[];
  /** Every one of these must be in the token's `roles`. */
  readonly roles?: readonly string[];
  /**
   * Without a valid token: "login" always redirects to the OIDC login, "challenge" always
   * answers the RFC 6750 401; absent, browser navigations redirect (when OIDC is on).
   */
  readonly unauthenticated?: UnauthenticatedAnswer;
  /**
   * "strict": besides KV, ask the session's Durable Object on every request whether the
   * session is alive, so an ended session is refused everywhere at the next request
   * (one Durable Object round trip per request; docs/configuration.md).
   */
  readonly revocation?: "strict";
  /** "required": only a DPoP-bound token, with its proof, passes (docs/dpop.md). */
  readonly dpop?: "required";
  /** A condition over the token's claims and where the request comes from (docs/policy.md). */
  readonly require?: Condition;
  /** Step-up: `max_auth_age`, `acr`, `amr` (docs/policy.md, "Step-up"). */
  readonly authentication?: AuthenticationRequirement;
  /** Ask a service binding whether the request may pass, after every other check (docs/policy.md). */
  readonly decision?: ExternalDecision;
  /**
   * The `aud` of the upstream assertion on this route (UPSTREAM_ASSERTION); absent:
   * UPSTREAM_ASSERTION_AUDIENCE. For upstreams that are several services behind one URL.
   */
  readonly assertionAudience?: string;
  /**
   * Whose tokens the route accepts: ids of TRUSTED_ISSUERS, and "self" for the gateway's
   * own. Absent: the gateway's own only.
   */
  readonly issuers?: readonly string[];
}

/** The id rules use for the gateway's own tokens (TOKEN_ISSUER); no trusted issuer may take it. */
export const OWN_TOKENS = "self";

export type UnauthenticatedAnswer = "login" | "challenge";
