/**
 * The refresh a token of ours signed by a retired signing key gets (authenticate.ts, step
 * 4): the key is gone, so the token proves nothing, and the session's refresh cookie
 * decides, as at POST /auth/refresh.
 */
import { GatewayError } from "../errors/gateway-error";
import { cookieValues, REFRESH_COOKIE } from "../http/cookies";
import { enforceRateLimit, ipKey } from "../http/rate-limit";
import { log } from "../log/logger";
import { sessionOfRefreshToken } from "../sessions/refresh-token";
import type { GrantedTokens } from "../sessions/sessions";
import type { UnknownSigningKey } from "../tokens/verify-access-token";
import type { RequestContext } from "./request-context";

/**
 * Step 4 for a token signed by a retired key (UnknownSigningKey, verify-access-token.ts):
 * its signature cannot be checked, so the refresh cookie is the credential, as it is at
 * POST /auth/refresh. Of the unverified token only the session it claims is used, and only
 * to refuse a cookie of another session; the new token's session and subject come from
 * the refresh token's own session. Without such a cookie it stays the invalid token it was.
 */
export async function refreshPastRetiredKey(
  context: RequestContext,
  unverified: UnknownSigningKey,
  jkt: string | undefined,
): Promise<GrantedTokens> {
  const cookies = cookieValues(context.incoming.cookie, REFRESH_COOKIE);
  const refreshToken = cookies.length === 1 ? cookies[0] : undefined;
  if (refreshToken === undefined || sessionOfRefreshToken(refreshToken) !== unverified.claimedSid) throw unverified;
  await enforceRateLimit(context, "REFRESH_IP_LIMIT", ipKey(context));
  try {
    const granted = await context.sessions.refresh(refreshToken, undefined, { jkt });
    log.info("retired_key_refreshed", { requestId: context.requestId, sid: granted.session.sid });
    return granted;
  } catch (error) {
    if (error instanceof GatewayError && error.code === "grant_invalid") {
      throw new GatewayError("token_invalid", {
        detail: `unknown signing key; refresh refused (${error.detail ?? error.code})`,
        clearSession: true,
        cause: error,
      });
    }
    throw error;
  }
}
