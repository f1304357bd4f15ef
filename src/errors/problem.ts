/**
 * The one mapping from a GatewayError code to what the client sees: status,
 * `application/problem+json` body (RFC 9457) and, for bearer-token failures,
 * `WWW-Authenticate` (RFC 6750 §3). Answers are deliberately generic: the reason an
 * attacker would like to know (expired vs. bad signature vs. revoked) goes to the log.
 */
import type { GatewayError, GatewayErrorCode, StepUp } from "./gateway-error";

interface ProblemShape {
  status: number;
  title: string;
  /** RFC 6750 / RFC 6749 error code, when the answer has one. */
  oauthError?:
    | "invalid_request"
    | "invalid_token"
    | "insufficient_scope"
    | "insufficient_user_authentication"
    | "access_denied"
    | "invalid_grant"
    | "invalid_client"
    | "unsupported_grant_type"
    | "invalid_scope"
    | "invalid_dpop_proof"
    | "use_dpop_nonce";
  /** Send `WWW-Authenticate: Bearer …` (protected resources). */
  bearerChallenge?: boolean;
}

const PROBLEMS: Record<GatewayErrorCode, ProblemShape> = {
  token_missing: { status: 401, title: "Authentication required", bearerChallenge: true },
  token_malformed: { status: 401, title: "Invalid access token", oauthError: "invalid_token", bearerChallenge: true },
  token_invalid: { status: 401, title: "Invalid access token", oauthError: "invalid_token", bearerChallenge: true },
  token_expired: { status: 401, title: "Invalid access token", oauthError: "invalid_token", bearerChallenge: true },
  token_revoked: { status: 401, title: "Invalid access token", oauthError: "invalid_token", bearerChallenge: true },
  token_ambiguous: {
    status: 400,
    title: "More than one access token in the request",
    oauthError: "invalid_request",
    bearerChallenge: true,
  },
  insufficient_scope: {
    status: 403,
    title: "Insufficient scope",
    oauthError: "insufficient_scope",
    bearerChallenge: true,
  },
  // RFC 9470: the token is fine, but the sign-in behind it is too old or too weak.
  insufficient_user_authentication: {
    status: 401,
    title: "A more recent or stronger sign-in is required",
    oauthError: "insufficient_user_authentication",
    bearerChallenge: true,
  },
  // Not RFC 6750's: the token is fine, the request's origin is not (no challenge, no scope).
  access_denied: { status: 403, title: "Access denied", oauthError: "access_denied" },
  dpop_proof_invalid: {
    status: 401,
    title: "Invalid DPoP proof",
    oauthError: "invalid_dpop_proof",
    bearerChallenge: true,
  },
  dpop_nonce_required: {
    status: 401,
    title: "A DPoP proof with the server's nonce is required",
    oauthError: "use_dpop_nonce",
    bearerChallenge: true,
  },
  dpop_grant_proof_invalid: { status: 400, title: "Invalid DPoP proof", oauthError: "invalid_dpop_proof" },
  dpop_grant_nonce_required: {
    status: 400,
    title: "A DPoP proof with the server's nonce is required",
    oauthError: "use_dpop_nonce",
  },
  keys_unavailable: { status: 503, title: "Token verification keys are temporarily unavailable" },
  introspection_unavailable: { status: 503, title: "Token verification is temporarily unavailable" },
  grant_invalid: { status: 401, title: "Invalid refresh token", oauthError: "invalid_grant" },
  credentials_invalid: { status: 401, title: "Invalid credentials" },
  client_invalid: { status: 401, title: "Client authentication failed", oauthError: "invalid_client" },
  grant_type_unsupported: { status: 400, title: "Unsupported grant type", oauthError: "unsupported_grant_type" },
  scope_invalid: { status: 400, title: "Invalid scope", oauthError: "invalid_scope" },
  request_invalid: { status: 400, title: "Malformed request", oauthError: "invalid_request" },
  payload_too_large: { status: 413, title: "Request body too large" },
  unsupported_media_type: { status: 415, title: "Unsupported content type" },
  method_not_allowed: { status: 405, title: "Method not allowed" },
  not_found: { status: 404, title: "Not found" },
  operator_unauthorized: { status: 401, title: "Operator authentication required" },
  rate_limited: { status: 429, title: "Too many requests" },
  origin_forbidden: { status: 403, title: "Cross-site request refused" },
  session_not_found: { status: 404, title: "No such session" },
  oidc_disabled: { status: 404, title: "Login through an identity provider is not configured" },
  login_failed: { status: 400, title: "Login through the identity provider failed", oauthError: "invalid_request" },
  logout_token_invalid: { status: 400, title: "Invalid logout token", oauthError: "invalid_request" },
  upstream_unreachable: { status: 502, title: "Upstream unreachable" },
  upstream_timeout: { status: 504, title: "Upstream timed out" },
  credential_check_unavailable: { status: 503, title: "Login is temporarily unavailable" },
  revocation_store_unavailable: { status: 503, title: "Authorization is temporarily unavailable" },
  session_store_unavailable: { status: 503, title: "Sessions are temporarily unavailable" },
  service_clients_unavailable: { status: 503, title: "Service clients are temporarily unavailable" },
  idp_unavailable: { status: 503, title: "The identity provider is temporarily unavailable" },
  // A rule's decision service did not decide (timeout, failure, an answer that is not one): fail closed.
  decision_unavailable: { status: 503, title: "Authorization is temporarily unavailable" },
  misconfigured: { status: 503, title: "Gateway is not configured" },
  internal_error: { status: 500, title: "Internal error" },
};

/** Quote a value for an RFC 7235 auth-param (escape backslash and double quote). */
function quoteAuthParam(value: string): string {
  return `"${value.replace(/[\\"]/g, (ch) => `\\${ch}`)}"`;
}

/** RFC 9470 §3's challenge parameters: what a new sign-in must bring. */
function stepUpParams(stepUp: StepUp): string[] {
  const params = [
    `error_description=${quoteAuthParam(stepUp.acrValues === undefined ? "A more recent sign-in is required" : "A stronger sign-in is required")}`,
  ];
  if (stepUp.acrValues !== undefined) params.push(`acr_values=${quoteAuthParam(stepUp.acrValues.join(" "))}`);
  if (stepUp.maxAge !== undefined) params.push(`max_age=${quoteAuthParam(String(stepUp.maxAge))}`);
  return params;
}

export interface ProblemContext {
  realm: string;
  requestId: string;
  /** The `algs` of a DPoP challenge (RFC 9449 §7.1): the proof algorithms accepted. */
  dpopAlgs?: string;
  /** The request used the DPoP scheme: the challenge names DPoP too, whatever was refused. */
  dpopScheme?: boolean;
}

const DPOP_CODES = new Set<GatewayErrorCode>([
  "dpop_proof_invalid",
  "dpop_nonce_required",
  "dpop_grant_proof_invalid",
  "dpop_grant_nonce_required",
]);

/** The HTTP status a code maps to (used by logs and tests). */
export function statusOf(code: GatewayErrorCode): number {
  return PROBLEMS[code].status;
}

/** Build the client-facing answer for a refusal. */
export function problemResponse(error: GatewayError, context: ProblemContext, extraHeaders?: HeadersInit): Response {
  const shape = PROBLEMS[error.code];
  const headers = new Headers(extraHeaders);
  headers.set("content-type", "application/problem+json");
  headers.set("cache-control", "no-store");
  headers.set("x-request-id", context.requestId);

  if (shape.bearerChallenge) {
    const params = [`realm=${quoteAuthParam(context.realm)}`];
    if (shape.oauthError) params.push(`error=${quoteAuthParam(shape.oauthError)}`);
    if (error.code === "insufficient_scope" && error.requiredScopes?.length) {
      params.push(`scope=${quoteAuthParam(error.requiredScopes.join(" "))}`);
    }
    if (error.stepUp !== undefined) params.push(...stepUpParams(error.stepUp));
    const dpop = error.dpopChallenge || context.dpopScheme === true || DPOP_CODES.has(error.code);
    if (dpop && context.dpopAlgs) params.push(`algs=${quoteAuthParam(context.dpopAlgs)}`);
    headers.set("www-authenticate", `${dpop ? "DPoP" : "Bearer"} ${params.join(", ")}`);
  }
  // RFC 6749 §5.2: a client that tried HTTP Basic gets a challenge of the scheme it used.
  if (error.basicChallenge) headers.set("www-authenticate", `Basic realm=${quoteAuthParam(context.realm)}`);
  // SERVICE_TOKEN_HEADER: the same rule for the header the client used (its name is a token, as a scheme is).
  if (error.serviceTokenChallenge !== undefined) {
    headers.set("www-authenticate", `${error.serviceTokenChallenge} realm=${quoteAuthParam(context.realm)}`);
  }
  if (error.dpopNonce !== undefined) headers.set("dpop-nonce", error.dpopNonce);
  if (error.retryAfter !== undefined) headers.set("retry-after", String(Math.max(1, Math.ceil(error.retryAfter))));

  const body: Record<string, unknown> = {
    type: "about:blank",
    title: shape.title,
    status: shape.status,
    request_id: context.requestId,
  };
  if (shape.oauthError) body.error = shape.oauthError;
  if (error.stepUp?.maxAge !== undefined) body.max_age = error.stepUp.maxAge;
  if (error.stepUp?.acrValues !== undefined) body.acr_values = error.stepUp.acrValues.join(" ");
  if (error.publicDetail !== undefined) body.detail = error.publicDetail;
  return new Response(JSON.stringify(body), { status: shape.status, headers });
}
