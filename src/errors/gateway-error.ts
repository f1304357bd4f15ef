/**
 * One error class for everything the gateway refuses or fails at.
 *
 * Every refusal carries a stable `code`; callers switch on it and a single mapping
 * (`problem.ts`) turns it into the answer a client sees. The `detail` is for the log only
 * and must never contain a token, cookie or secret.
 */

/** What a new sign-in must bring: RFC 9470's challenge parameters, and the OIDC login's. */
export interface StepUp {
  readonly maxAge?: number;
  readonly acrValues?: readonly string[];
  /**
   * The login provider the refused token's session signed in with (its `idp` claim): the
   * navigation's step-up goes back to that provider rather than to the chooser. Never sent
   * in a challenge.
   */
  readonly provider?: string;
}

export type GatewayErrorCode =
  // credentials on a protected request (RFC 6750)
  | "token_missing"
  | "token_malformed"
  | "token_invalid"
  | "token_expired"
  | "token_revoked"
  | "token_ambiguous"
  | "insufficient_scope"
  // a route's step-up (max_auth_age, acr, amr): the user must sign in again (RFC 9470)
  | "insufficient_user_authentication"
  // a route condition on where the request comes from (docs/policy.md): no token would pass
  | "access_denied"
  | "keys_unavailable"
  // a trusted issuer's introspection endpoint did not answer (fail closed)
  | "introspection_unavailable"
  // DPoP proofs (RFC 9449): at a protected resource (401), and at the token endpoints (400)
  | "dpop_proof_invalid"
  | "dpop_nonce_required"
  | "dpop_grant_proof_invalid"
  | "dpop_grant_nonce_required"
  // sessions and auth endpoints (RFC 6749)
  | "grant_invalid"
  | "credentials_invalid"
  | "client_invalid"
  // the token endpoint (RFC 6749 §5.2): client_credentials
  | "grant_type_unsupported"
  | "scope_invalid"
  | "request_invalid"
  | "payload_too_large"
  | "unsupported_media_type"
  | "method_not_allowed"
  | "not_found"
  | "operator_unauthorized"
  | "rate_limited"
  | "origin_forbidden"
  | "session_not_found"
  // login through an OpenID Connect provider
  | "oidc_disabled"
  | "login_failed"
  | "logout_token_invalid"
  // dependencies
  | "upstream_unreachable"
  | "upstream_timeout"
  | "credential_check_unavailable"
  | "revocation_store_unavailable"
  | "session_store_unavailable"
  | "service_clients_unavailable"
  | "idp_unavailable"
  | "decision_unavailable"
  | "misconfigured"
  // a bug: anything not anticipated above
  | "internal_error";

export interface GatewayErrorOptions {
  /** Log-only explanation. Never include secrets. */
  detail?: string;
  cause?: unknown;
  /** Scopes a route required, for `insufficient_scope`. */
  requiredScopes?: readonly string[];
  /** Seconds, for `rate_limited` and temporary failures. */
  retryAfter?: number;
  /** The answer also clears the gateway's cookies (a dead session). */
  clearSession?: boolean;
  /** For `method_not_allowed`: the methods the endpoint takes (default "POST"). */
  allow?: string;
  /**
   * Sent to the client as the problem's `detail`. Only for what an operator's own plan ran
   * out of (e.g. a daily KV limit), never anything about a token or a secret.
   */
  publicDetail?: string;
  /** The challenge names the DPoP scheme (a DPoP-bound token, a DPoP route) instead of Bearer. */
  dpopChallenge?: boolean;
  /** A fresh server nonce to send as `DPoP-Nonce`. */
  dpopNonce?: string;
  /** For `insufficient_user_authentication`: what a new sign-in must bring (RFC 9470 `max_age`, `acr_values`). */
  stepUp?: StepUp;
  /** For `client_invalid`: the client tried HTTP Basic, so the 401 challenges Basic (RFC 6749 §5.2). */
  basicChallenge?: boolean;
  /**
   * For `client_invalid`: the client sent its credentials in SERVICE_TOKEN_HEADER, so the
   * 401 challenges with that header's name as the scheme, as Basic answers Basic.
   */
  serviceTokenChallenge?: string;
}

export class GatewayError extends Error {
  readonly code: GatewayErrorCode;
  readonly detail: string | undefined;
  readonly requiredScopes: readonly string[] | undefined;
  readonly retryAfter: number | undefined;
  readonly clearSession: boolean;
  readonly allow: string | undefined;
  readonly publicDetail: string | undefined;
  readonly dpopChallenge: boolean;
  readonly dpopNonce: string | undefined;
  readonly stepUp: StepUp | undefined;
  readonly basicChallenge: boolean;
  readonly serviceTokenChallenge: string | undefined;

  constructor(code: GatewayErrorCode, options: GatewayErrorOptions = {}) {
    super(options.detail ? `${code}: ${options.detail}` : code, { cause: options.cause });
    this.name = "GatewayError";
    this.code = code;
    this.detail = options.detail;
    this.requiredScopes = options.requiredScopes;
    this.retryAfter = options.retryAfter;
    this.clearSession = options.clearSession ?? false;
    this.allow = options.allow;
    this.publicDetail = options.publicDetail;
    this.dpopChallenge = options.dpopChallenge ?? false;
    this.dpopNonce = options.dpopNonce;
    this.stepUp = options.stepUp;
    this.basicChallenge = options.basicChallenge ?? false;
    this.serviceTokenChallenge = options.serviceTokenChallenge;
  }
}
