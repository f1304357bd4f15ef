/**
 * POST /auth/refresh — client-managed refresh.
 * Browsers send the refresh cookie (empty body); other clients send the RFC 6749 §6 form
 * `grant_type=refresh_token&refresh_token=…` and get the rotated token back in the body.
 * A DPoP proof binds the new access token (and an unbound session) to its key; a session
 * bound to a key is refreshed only with a proof by that key (sessions/session-object.ts).
 */
import { GatewayError } from "../errors/gateway-error";
import type { RequestContext } from "../gateway/request-context";
import { answerNonce, sessionProof } from "../gateway/sender-constraint";
import { cookieValues, REFRESH_COOKIE } from "../http/cookies";
import { assertTrustedOrigin } from "../http/origin-check";
import { enforceRateLimit, ipKey } from "../http/rate-limit";
import { readFields } from "../http/read-body";
import { tokenResponse } from "../http/token-response";
import { sessionOfRefreshToken } from "../sessions/refresh-token";

export async function handleRefresh(context: RequestContext, request: Request): Promise<Response> {
  const cookies = cookieValues(context.incoming.cookie, REFRESH_COOKIE);
  if (cookies.length > 0) assertTrustedOrigin(context.config, request);
  // The proof first: a retry for the server's nonce is not another refresh.
  const proof = await sessionProof(context, false);
  await enforceRateLimit(context, "REFRESH_IP_LIMIT", ipKey(context));
  const fields = await readFields(request, ["form", "empty"]);
  if (cookies.length > 1)
    throw new GatewayError("request_invalid", { detail: "several refresh cookies", clearSession: true });
  const fromBody = fields.refresh_token;
  if (fromBody !== undefined && fields.grant_type !== "refresh_token") {
    throw new GatewayError("request_invalid", { detail: 'grant_type must be "refresh_token"' });
  }
  if (fromBody !== undefined && cookies.length === 1) {
    throw new GatewayError("request_invalid", { detail: "refresh token in both cookie and body" });
  }
  const refreshToken = fromBody ?? cookies[0];
  if (!refreshToken) throw new GatewayError("grant_invalid", { detail: "no refresh token", clearSession: true });
  const sid = sessionOfRefreshToken(refreshToken);
  if (sid !== undefined) await enforceRateLimit(context, "REFRESH_SESSION_LIMIT", `session:${sid}`);
  const proofRequired = context.config.dpop.sessions === "required";
  const granted = await context.sessions.refresh(refreshToken, undefined, { jkt: proof?.jkt, proofRequired });
  const response = tokenResponse(context.config, granted, {
    refreshInBody: fromBody !== undefined,
    setAccessCookie: context.config.accessCookie,
  });
  await answerNonce(context, response.headers);
  return response;
}
