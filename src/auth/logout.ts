/**
 * POST /auth/logout — ends the session (by the refresh cookie, or the access token's
 * `sid`), revokes the presented access token, and clears the cookies. 204: logging out
 * twice, or with nothing, is not an error.
 *
 * An OIDC session also ends at the provider only if the browser goes there: the answer is
 * then 200 `{"end_session_url": …}` (RP-Initiated Logout), or for a browser form post a
 * 303 to that URL.
 */
import { GatewayError } from "../errors/gateway-error";
import type { RequestContext } from "../gateway/request-context";
import { proofForToken } from "../gateway/sender-constraint";
import { cookieValues, REFRESH_COOKIE } from "../http/cookies";
import { assertTrustedOrigin } from "../http/origin-check";
import { appendClearedCookies } from "../http/token-response";
import { log } from "../log/logger";
import type { EndedSession } from "../sessions/sessions";
import type { AccessTokenClaims } from "../tokens/access-token-claims";
import { type PresentedToken, readAccessToken } from "../tokens/read-credentials";
import { endProviderSession } from "./oidc-logout";
import { revokeAccessToken, verifyForRevocation } from "./revoke-token";

export async function handleLogout(context: RequestContext, request: Request): Promise<Response> {
  const refreshTokens = cookieValues(context.incoming.cookie, REFRESH_COOKIE);
  // Logging a victim out from another site is a (small) CSRF; refuse it like any other.
  if (context.incoming.cookie !== null) assertTrustedOrigin(context.config, request);
  let presented: ReturnType<typeof readAccessToken>;
  try {
    presented = readAccessToken(context.incoming);
  } catch (error) {
    if (!(error instanceof GatewayError)) throw error;
    presented = undefined;
  }

  const ended = new Set<string>();
  let oidcSession: EndedSession | undefined;
  for (const token of refreshTokens) {
    const session = await context.sessions.endByRefreshToken(token, "logout");
    if (session) ended.add(session.sid);
    if (session?.idpLogout) oidcSession = session;
  }
  if (presented !== undefined) {
    const verified = await verifyForRevocation(context, presented.token);
    // A DPoP-bound token speaks for its session only with a proof by its key.
    const claims = verified && (await provesKey(context, presented, verified)) ? verified : undefined;
    if (claims !== undefined) {
      await revokeAccessToken(context, claims, "logout");
      if (claims.sid !== undefined && !ended.has(claims.sid)) {
        const session = await context.sessions.endById(claims.sid, "logout");
        ended.add(claims.sid);
        if (session?.idpLogout) oidcSession = session;
      }
    }
  }
  log.security("logout", { requestId: context.requestId, sessions: ended.size });
  const headers = appendClearedCookies(new Headers({ "cache-control": "no-store" }), context.config);
  const endSessionUrl = oidcSession ? await endProviderSession(context, request, oidcSession) : undefined;
  if (endSessionUrl === undefined) return new Response(null, { status: 204, headers });
  if (isFormNavigation(request)) {
    headers.set("location", endSessionUrl);
    return new Response(null, { status: 303, headers });
  }
  headers.set("content-type", "application/json");
  return new Response(JSON.stringify({ end_session_url: endSessionUrl }), { status: 200, headers });
}

/** The token may be used as presented (a bound one with its proof); a logout refuses nothing, it only ends less. */
async function provesKey(context: RequestContext, presented: PresentedToken, claims: AccessTokenClaims) {
  try {
    await proofForToken(context, presented, claims);
    return true;
  } catch (error) {
    if (!(error instanceof GatewayError)) throw error;
    log.info("logout_token_unproven", { requestId: context.requestId, detail: error.detail });
    return false;
  }
}

/** A browser submitting a form (not a script): it can follow a 303 to the provider. */
function isFormNavigation(request: Request): boolean {
  const mode = request.headers.get("sec-fetch-mode");
  const form = request.headers.get("content-type")?.toLowerCase().startsWith("application/x-www-form-urlencoded");
  if (mode !== null) return mode === "navigate";
  return form === true && (request.headers.get("accept") ?? "").toLowerCase().includes("text/html");
}
