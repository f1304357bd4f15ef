/**
 * The gateway pipeline for every request that is not an auth endpoint:
 *
 *   1. route policy: public, or protected (with scopes/roles)
 *   2. read the access token (Authorization: Bearer, or the access cookie)
 *   3. verify it
 *   4. expired but otherwise valid, with a refresh cookie → rotate through the session
 *   5. revocation check in KV
 *   6. authorization (scopes/roles of the route)
 *   7. forward upstream with identity headers; stream both ways
 *   8. on the way back, the rotated cookie and new access token
 */
import { GatewayError } from "../errors/gateway-error";
import { cookieValues, REFRESH_COOKIE } from "../http/cookies";
import { assertTrustedOrigin } from "../http/origin-check";
import { enforceRateLimit, ipKey } from "../http/rate-limit";
import { applyRefresh } from "../http/token-response";
import { log } from "../log/logger";
import { decideRoute, missingGrants } from "../policy/route-policy";
import { sendUpstream, upstreamUrl } from "../proxy/forward";
import { buildUpstreamRequest, type Identity } from "../proxy/upstream-request";
import { relayWebSocket } from "../proxy/websocket-relay";
import type { GrantedTokens } from "../sessions/sessions";
import { type AccessTokenClaims, claimsOfIssued } from "../tokens/access-token-claims";
import { readAccessToken } from "../tokens/read-credentials";
import { verifyAccessTokenCached } from "../tokens/verification-cache";
import { type RequestContext, verifyOptionsFor } from "./request-context";

// Encoded slash, backslash and NUL let a path mean one thing here and another upstream.
const AMBIGUOUS_PATH = /%(2f|5c|00)/i;

export async function handleGatewayRequest(context: RequestContext, request: Request): Promise<Response> {
  const { config } = context;
  const url = new URL(request.url);
  if (AMBIGUOUS_PATH.test(url.pathname))
    throw new GatewayError("request_invalid", { detail: "ambiguous path encoding" });
  if (url.pathname === config.credentialCheckPath || url.pathname.startsWith(`${config.credentialCheckPath}/`)) {
    // The upstream's credential check is for the gateway alone.
    return new Response(null, { status: 404 });
  }

  const route = decideRoute(config.routes, request.method, url.pathname);
  if (route.access === "public") return forward(context, request, url, undefined);

  const presented = readAccessToken(request.headers);
  if (presented === undefined) throw new GatewayError("token_missing");
  // A cookie rides along on cross-site requests; a header does not.
  if (presented.source === "cookie") assertTrustedOrigin(config, request);

  const verified = await verifyAccessTokenCached(presented.token, context.keys, verifyOptionsFor(context));

  let claims: AccessTokenClaims = verified.claims;
  let token = presented.token;
  let refreshed: GrantedTokens | undefined;
  if (verified.status === "expired") {
    refreshed = await refreshTransparently(context, request.headers, verified.claims);
    claims = claimsOfIssued(refreshed);
    token = refreshed.accessToken.token;
  }

  // A token minted just now by a refresh needs no lookup: its jti is new, the session
  // object vouched for the session, and the refresh checked the subject.
  const revokedBy = refreshed === undefined ? await context.revocations.revokedBecause(claims) : undefined;
  if (revokedBy !== undefined) {
    log.info("token_revoked", { requestId: context.requestId, by: revokedBy, sid: claims.sid });
    throw new GatewayError("token_revoked", { detail: `revoked by ${revokedBy}` });
  }

  const missing = missingGrants(route, claims);
  if (missing.scopes.length > 0 || missing.roles.length > 0) {
    throw new GatewayError("insufficient_scope", {
      detail: `missing scopes [${missing.scopes.join(" ")}] roles [${missing.roles.join(" ")}]`,
      requiredScopes: route.scopes,
    });
  }

  // OIDC_FORWARD_IDP_TOKEN: the upstream gets the provider's (fresh) access token instead of ours.
  if (config.oidc?.forwardIdpToken && claims.sid !== undefined) {
    token = refreshed?.idpAccessToken ?? (await context.sessions.idpAccessToken(claims.sid)) ?? token;
  }
  const response = await forward(context, request, url, { claims, token });
  if (response.webSocket) return relay(context, response, claims);
  if (refreshed === undefined) return response;
  applyRefresh(response.headers, config, refreshed, presented.source === "cookie" || config.accessCookie);
  return response;
}

/**
 * Step 4. Only for a token whose signature and claims checked out except `exp`, and only
 * with a refresh cookie of the same session. Any failure is an invalid token, and the
 * dead cookies are cleared.
 */
async function refreshTransparently(
  context: RequestContext,
  headers: Headers,
  expired: AccessTokenClaims,
): Promise<GrantedTokens> {
  const cookies = cookieValues(headers.get("cookie"), REFRESH_COOKIE);
  const refreshToken = cookies.length === 1 ? cookies[0] : undefined;
  if (refreshToken === undefined || expired.sid === undefined) {
    throw new GatewayError("token_expired", {
      detail: cookies.length > 1 ? "several refresh cookies" : "no refresh cookie",
    });
  }
  await enforceRateLimit(context, "REFRESH_IP_LIMIT", ipKey(context));
  try {
    return await context.sessions.refresh(refreshToken, expired.sid);
  } catch (error) {
    if (error instanceof GatewayError && error.code === "grant_invalid") {
      throw new GatewayError("token_expired", {
        detail: `transparent refresh refused (${error.detail ?? error.code})`,
        clearSession: true,
        cause: error,
      });
    }
    throw error;
  }
}

/** An authenticated WebSocket lives no longer than its access token, nor past a revocation. */
function relay(context: RequestContext, response: Response, claims: AccessTokenClaims): Response {
  const { config } = context;
  return relayWebSocket(response.webSocket as WebSocket, response.headers, {
    expiresAt: (claims.exp + config.clockToleranceSeconds) * 1000,
    revalidateMs: config.websocketRevalidateSeconds * 1000,
    now: context.now,
    isRevoked: async () => (await context.revocations.revokedBecause(claims)) !== undefined,
    requestId: context.requestId,
  });
}

function forward(
  context: RequestContext,
  request: Request,
  url: URL,
  identity: Identity | undefined,
): Promise<Response> {
  const upstreamRequest = buildUpstreamRequest(request, {
    url: upstreamUrl(context.upstream, url),
    incomingUrl: url,
    clientIp: context.clientIp,
    identity,
  });
  return sendUpstream(context.upstream, upstreamRequest);
}
