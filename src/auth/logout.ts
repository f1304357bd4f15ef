/**
 * POST /auth/logout — ends the session (by the refresh cookie, or the access token's
 * `sid`), revokes the presented access token, and clears the cookies. Always 204: logging
 * out twice, or with nothing, is not an error.
 */
import { GatewayError } from "../errors/gateway-error";
import type { RequestContext } from "../gateway/request-context";
import { cookieValues, REFRESH_COOKIE } from "../http/cookies";
import { assertTrustedOrigin } from "../http/origin-check";
import { appendClearedCookies } from "../http/token-response";
import { log } from "../log/logger";
import { readAccessToken } from "../tokens/read-credentials";
import { revokeAccessToken, verifyForRevocation } from "./revoke-token";

export async function handleLogout(context: RequestContext, request: Request): Promise<Response> {
  const refreshTokens = cookieValues(request.headers.get("cookie"), REFRESH_COOKIE);
  // Logging a victim out from another site is a (small) CSRF; refuse it like any other.
  if (request.headers.get("cookie") !== null) assertTrustedOrigin(context.config, request);
  let presented: ReturnType<typeof readAccessToken>;
  try {
    presented = readAccessToken(request.headers);
  } catch (error) {
    if (!(error instanceof GatewayError)) throw error;
    presented = undefined;
  }

  const ended = new Set<string>();
  for (const token of refreshTokens) {
    const session = await context.sessions.endByRefreshToken(token, "logout");
    if (session) ended.add(session.sid);
  }
  if (presented !== undefined) {
    const claims = await verifyForRevocation(context, presented.token);
    if (claims !== undefined) {
      await revokeAccessToken(context, claims, "logout");
      if (claims.sid !== undefined && !ended.has(claims.sid)) {
        await context.sessions.endById(claims.sid, "logout");
        ended.add(claims.sid);
      }
    }
  }
  log.security("logout", { requestId: context.requestId, sessions: ended.size });
  return new Response(null, {
    status: 204,
    headers: appendClearedCookies(new Headers({ "cache-control": "no-store" }), context.config),
  });
}
