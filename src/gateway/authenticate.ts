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
import { type CredentialSource, type PresentedToken, readAccessToken } from "../tokens/read-credentials";
import { rememberedVerification, verifyAndRemember } from "../tokens/verification-cache";
import type { VerifyResult } from "../tokens/verify-access-token";
import { type RequestContext, verifyOptionsFor } from "./request-context";

export interface Authenticated {
  readonly claims: AccessTokenClaims;
  /** The access token the request goes on with: the presented one, or the one just minted. */
  readonly token: string;
  /** Set when the presented token had expired and the session was refreshed on the way. */
  readonly refreshed: GrantedTokens | undefined;
  readonly source: CredentialSource;
}

export interface AuthenticateOptions {
  /**
   * Refresh an expired token through the refresh cookie, as the proxied path does (its
   * answer carries the new tokens). False: an expired token is refused ("refresh first"),
   * for endpoints whose answers do not hand tokens back.
   */
  readonly refresh: boolean;
}

const REFRESHING: AuthenticateOptions = Object.freeze({ refresh: true });

/**
 * Steps 2–5. Throws (or rejects with) the GatewayError that the one error mapping answers.
 *
 * Synchronous when nothing needs waiting for, which is the common case: a token verified
 * before (the verification cache) and a fresh revocation snapshot. Then no promise is made.
 */
export function authenticate(
  context: RequestContext,
  request: Request,
  options: AuthenticateOptions = REFRESHING,
): Authenticated | Promise<Authenticated> {
  const presented = readAccessToken(context.incoming);
  if (presented === undefined) throw new GatewayError("token_missing");
  // A cookie rides along on cross-site requests and WebSocket handshakes; a header does not.
  if (presented.source === "cookie") assertTrustedOrigin(context.config, request, context.incoming.webSocket);

  const remembered = rememberedVerification(
    presented.token,
    context.keys,
    context.now(),
    context.config.clockToleranceSeconds,
  );
  if (remembered === undefined || remembered.status === "expired") {
    return verifyThenAdmit(context, presented, remembered, options);
  }
  return admit(context, remembered.claims, presented, undefined);
}

async function verifyThenAdmit(
  context: RequestContext,
  presented: PresentedToken,
  /** What the verification cache already said: an expired token, or nothing. */
  remembered: VerifyResult | undefined,
  options: AuthenticateOptions,
): Promise<Authenticated> {
  const verified = remembered ?? (await verifyAndRemember(presented.token, context.keys, verifyOptionsFor(context)));
  if (verified.status !== "expired") return admit(context, verified.claims, presented, undefined);
  if (!options.refresh) throw new GatewayError("token_expired", { detail: "refresh first" });
  const refreshed = await refreshTransparently(context, verified.claims);
  return admit(context, claimsOfIssued(refreshed), presented, refreshed);
}

/**
 * Step 5, the revocation check, then the answer. A token minted just now by a refresh
 * needs no lookup: its jti is new, the session object vouched for the session, and the
 * refresh checked the subject.
 */
function admit(
  context: RequestContext,
  claims: AccessTokenClaims,
  presented: PresentedToken,
  refreshed: GrantedTokens | undefined,
): Authenticated | Promise<Authenticated> {
  const authenticated: Authenticated = {
    claims,
    token: refreshed === undefined ? presented.token : refreshed.accessToken.token,
    refreshed,
    source: presented.source,
  };
  if (refreshed !== undefined) return authenticated;
  const verdict = context.revocations.revokedBecause(claims);
  if (verdict instanceof Promise) return verdict.then((revokedBy) => unlessRevoked(context, authenticated, revokedBy));
  return unlessRevoked(context, authenticated, verdict);
}

function unlessRevoked(
  context: RequestContext,
  authenticated: Authenticated,
  revokedBy: RevocationVerdict,
): Authenticated {
  if (revokedBy === undefined) return authenticated;
  log.info("token_revoked", { requestId: context.requestId, by: revokedBy, sid: authenticated.claims.sid });
  throw new GatewayError("token_revoked", { detail: `revoked by ${revokedBy}` });
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
async function refreshTransparently(context: RequestContext, expired: AccessTokenClaims): Promise<GrantedTokens> {
  // The cookie header as the context read it when the request arrived.
  const cookies = cookieValues(context.incoming.cookie, REFRESH_COOKIE);
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
