/**
 * Who is calling: steps 2 to 5 of the pipeline, shared by the standalone gateway
 * (gateway.ts, before it forwards) and the `portcullis/hono` middleware (before your
 * handler runs), so both accept and refuse exactly the same requests.
 *
 *   2. read the access token (Authorization: Bearer, or the access cookie)
 *   3. verify it
 *   4. expired but otherwise valid, with a refresh cookie → rotate through the session
 *   5. revocation check in KV
 */
import { GatewayError } from "../errors/gateway-error";
import { cookieValues, REFRESH_COOKIE } from "../http/cookies";
import { assertTrustedOrigin } from "../http/origin-check";
import { enforceRateLimit, ipKey } from "../http/rate-limit";
import { applyRefresh } from "../http/token-response";
import { log } from "../log/logger";
import type { RevocationVerdict } from "../revocation/revocation-store";
import type { GrantedTokens } from "../sessions/sessions";
import { type AccessTokenClaims, claimsOfIssued } from "../tokens/access-token-claims";
import { type CredentialSource, readAccessToken } from "../tokens/read-credentials";
import { rememberedVerification, verifyAccessTokenCached } from "../tokens/verification-cache";
import { type RequestContext, verifyOptionsFor } from "./request-context";

export interface Authenticated {
  readonly claims: AccessTokenClaims;
  /** The access token the request goes on with: the presented one, or the one just minted. */
  readonly token: string;
  /** Set when the presented token had expired and the session was refreshed on the way. */
  readonly refreshed: GrantedTokens | undefined;
  readonly source: CredentialSource;
}

/** Steps 2–5. Throws the GatewayError that the one error mapping answers. */
export async function authenticate(context: RequestContext, request: Request): Promise<Authenticated> {
  const presented = readAccessToken(context.incoming);
  if (presented === undefined) throw new GatewayError("token_missing");
  // A cookie rides along on cross-site requests; a header does not.
  if (presented.source === "cookie") assertTrustedOrigin(context.config, request);

  const verified =
    rememberedVerification(presented.token, context.keys, context.now(), context.config.clockToleranceSeconds) ??
    (await verifyAccessTokenCached(presented.token, context.keys, verifyOptionsFor(context)));

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
  let revokedBy: RevocationVerdict;
  if (refreshed === undefined) {
    const verdict = context.revocations.revokedBecause(claims);
    revokedBy = verdict instanceof Promise ? await verdict : verdict;
  }
  if (revokedBy !== undefined) {
    log.info("token_revoked", { requestId: context.requestId, by: revokedBy, sid: claims.sid });
    throw new GatewayError("token_revoked", { detail: `revoked by ${revokedBy}` });
  }
  return { claims, token, refreshed, source: presented.source };
}

/** Step 8: hand a transparent refresh's new tokens back on the answer (mutates `headers`). */
export function answerRefresh(context: RequestContext, headers: Headers, authenticated: Authenticated): void {
  if (authenticated.refreshed === undefined) return;
  const setAccessCookie = authenticated.source === "cookie" || context.config.accessCookie;
  applyRefresh(headers, context.config, authenticated.refreshed, setAccessCookie);
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
    return await context.sessions.refresh(refreshToken, {
      sid: expired.sid,
      sub: expired.sub,
      authTime: expired.authTime,
    });
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
