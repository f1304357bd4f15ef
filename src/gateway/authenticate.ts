/**
 * Who is calling: steps 2 to 5 of the pipeline, shared by the standalone gateway
 * (gateway.ts, before it forwards) and the `portcullis/hono` middleware (before your
 * handler runs), so both accept and refuse exactly the same requests.
 *
 *   2. read the access token (Authorization: Bearer, or the access cookie)
 *   3. verify it
 *   4. expired but otherwise valid, with a refresh cookie → rotate through the session;
 *      signed by a retired key, with a refresh cookie of the session it claims → the same,
 *      the cookie alone vouching for who it is
 *   5. revocation check in KV
 *
 * A token bound to a DPoP key (`cnf.jkt`) must come with a proof by that key, checked
 * after step 3 and before anything else happens (sender-constraint.ts); a transparent
 * refresh then binds the new token to the same key.
 */
import { GatewayError } from "../errors/gateway-error";
import { cookieValues, REFRESH_COOKIE } from "../http/cookies";
import { assertTrustedOrigin } from "../http/origin-check";
import { enforceRateLimit, ipKey } from "../http/rate-limit";
import { applyRefresh } from "../http/token-response";
import { log } from "../log/logger";
import { acceptsIssuer } from "../policy/route-matching";
import { OWN_TOKENS } from "../policy/route-rule";
import type { RevocationVerdict } from "../revocation/revocation-store";
import type { GrantedTokens } from "../sessions/sessions";
import { type AccessTokenClaims, claimsOfIssued } from "../tokens/access-token-claims";
import { type CredentialSource, type PresentedToken, readAccessToken } from "../tokens/read-credentials";
import { isOpaqueToken } from "../tokens/token-introspection";
import { rememberedVerification, verifyAndRemember } from "../tokens/verification-cache";
import { UnknownSigningKey, type VerifyResult } from "../tokens/verify-access-token";
import { isNavigation } from "./login-redirect";
import { type RequestContext, verifyOptionsFor } from "./request-context";
import { refreshPastRetiredKey } from "./retired-key-refresh";
import { proofForToken, requestProof, type VerifiedProof } from "./sender-constraint";

export interface Authenticated {
  readonly claims: AccessTokenClaims;
  /** The access token the request goes on with: the presented one, or the one just minted. */
  readonly token: string;
  /** Set when the presented token had expired and the session was refreshed on the way. */
  readonly refreshed: GrantedTokens | undefined;
  /** Where the credential came from: an access token's place, or the refresh cookie alone (a navigation). */
  readonly source: CredentialSource | "refresh-cookie";
  /** The DPoP proof a bound token came with; undefined for a bearer token. */
  readonly proof: VerifiedProof | undefined;
}

export interface AuthenticateOptions {
  /**
   * Refresh an expired token through the refresh cookie, as the proxied path does (its
   * answer carries the new tokens). False: an expired token is refused ("refresh first"),
   * for endpoints whose answers do not hand tokens back.
   */
  readonly refresh: boolean;
  /**
   * Whose tokens are accepted: the route's `issuers` ("self" and ids of TRUSTED_ISSUERS).
   * Absent: the gateway's own tokens only, so another issuer's token passes only where a
   * rule names it. Checked right after verification, before a refresh or revocation check.
   */
  readonly issuers?: readonly string[];
}

const REFRESHING: AuthenticateOptions = Object.freeze({ refresh: true });

/**
 * A token of an issuer the route does not name is refused as an invalid token (401), not as
 * lacking a grant (403): for this resource its issuer is no authority at all, as with a
 * token made for another audience (RFC 9068 §4), and no scope would mend it.
 */
function assertIssuerAccepted(trustedIssuer: string | undefined, options: AuthenticateOptions): void {
  if (acceptsIssuer(options.issuers, trustedIssuer)) return;
  throw new GatewayError("token_invalid", {
    detail: `tokens of issuer ${trustedIssuer ?? OWN_TOKENS} are not accepted on this route`,
  });
}

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
  if (presented === undefined) {
    if (options.refresh && acceptsIssuer(options.issuers, undefined) && navigatesWithSession(context, request)) {
      return refreshNavigation(context);
    }
    throw new GatewayError("token_missing");
  }
  // A cookie rides along on cross-site requests and WebSocket handshakes; a header does not.
  if (presented.source === "cookie") assertTrustedOrigin(context.config, request, context.incoming.webSocket);
  return authenticateToken(context, presented, options);
}

/**
 * Steps 3–5 for a token already in hand: the one read from the request, or the one
 * SERVICE_TOKEN_HEADER was exchanged for (service-token-header.ts), which is then judged
 * exactly as if the request had carried it.
 */
export function authenticateToken(
  context: RequestContext,
  presented: PresentedToken,
  options: AuthenticateOptions,
): Authenticated | Promise<Authenticated> {
  const remembered = rememberedVerification(
    presented.token,
    context.keys,
    context.now(),
    context.config.clockToleranceSeconds,
  );
  if (remembered === undefined || remembered.status === "expired") {
    return verifyThenAdmit(context, presented, remembered, options);
  }
  assertIssuerAccepted(remembered.claims.trustedIssuer, options);
  if (remembered.claims.jkt !== undefined || presented.dpop)
    return proveThenAdmit(context, remembered.claims, presented);
  return admit(context, remembered.claims, presented, undefined, undefined);
}

async function proveThenAdmit(
  context: RequestContext,
  claims: AccessTokenClaims,
  presented: PresentedToken,
): Promise<Authenticated> {
  const proof = await proofForToken(context, presented, claims);
  return admit(context, claims, presented, undefined, proof);
}

async function verifyThenAdmit(
  context: RequestContext,
  presented: PresentedToken,
  /** What the verification cache already said: an expired token, or nothing. */
  remembered: VerifyResult | undefined,
  options: AuthenticateOptions,
): Promise<Authenticated> {
  const introspection = context.keys.introspection;
  if (introspection !== undefined && remembered === undefined && isOpaqueToken(presented.token)) {
    // Only where the route takes the introspected issuer's tokens is its provider asked at all.
    assertIssuerAccepted(introspection.issuer.id, options);
  }
  let verified: VerifyResult;
  try {
    verified = remembered ?? (await verifyAndRemember(presented.token, context.keys, verifyOptionsFor(context)));
  } catch (error) {
    if (!(error instanceof UnknownSigningKey) || !options.refresh || !acceptsIssuer(options.issuers, undefined)) {
      throw error;
    }
    // Nothing in the token can be checked; a proof, if any, is checked against it all the same.
    const proof = await requestProof(context, "resource", presented.token);
    const refreshed = await refreshPastRetiredKey(context, error, proof?.jkt);
    return admit(context, claimsOfIssued(refreshed), presented, refreshed, proof);
  }
  const { claims } = verified;
  assertIssuerAccepted(claims.trustedIssuer, options);
  const proof =
    claims.jkt !== undefined || presented.dpop ? await proofForToken(context, presented, claims) : undefined;
  if (verified.status !== "expired") return admit(context, claims, presented, undefined, proof);
  if (!options.refresh) throw new GatewayError("token_expired", { detail: "refresh first" });
  const refreshed = await refreshTransparently(context, claims, proof?.jkt);
  return admit(context, claimsOfIssued(refreshed), presented, refreshed, proof);
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
  proof: VerifiedProof | undefined,
): Authenticated | Promise<Authenticated> {
  const authenticated: Authenticated = {
    claims,
    token: refreshed === undefined ? presented.token : refreshed.accessToken.token,
    refreshed,
    source: presented.source,
    proof,
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
async function refreshTransparently(
  context: RequestContext,
  expired: AccessTokenClaims,
  jkt: string | undefined,
): Promise<GrantedTokens> {
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
    return await context.sessions.refresh(
      refreshToken,
      { sid: expired.sid, sub: expired.sub, authTime: expired.authTime },
      { jkt },
    );
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

/**
 * A browser navigation that brings no access token but the session's refresh cookie, where
 * login through an OpenID Connect provider is on: the cookie is the session, as in any
 * backend-for-frontend (docs/oidc.md, "Coming back from the provider"). A navigation is a
 * GET or HEAD, so no origin check is needed: its answer is shown to the user, never read by
 * the page that started it.
 */
function navigatesWithSession(context: RequestContext, request: Request): boolean {
  return (
    context.config.oidc !== undefined &&
    isNavigation(request) &&
    cookieValues(context.incoming.cookie, REFRESH_COOKIE).length === 1
  );
}

/** Step 4 for such a navigation: the refresh token alone, as at POST /auth/refresh. */
async function refreshNavigation(context: RequestContext): Promise<Authenticated> {
  const [refreshToken] = cookieValues(context.incoming.cookie, REFRESH_COOKIE) as [string];
  await enforceRateLimit(context, "REFRESH_IP_LIMIT", ipKey(context));
  let granted: GrantedTokens;
  try {
    granted = await context.sessions.refresh(refreshToken, undefined, { navigation: true });
  } catch (error) {
    if (error instanceof GatewayError && error.code === "grant_invalid") {
      // A dead session: the navigation goes to the login, and the dead cookies are cleared
      // (a live DPoP-bound one, which a navigation cannot prove, keeps its cookies).
      throw new GatewayError("token_missing", {
        detail: `navigation with a refresh cookie refused (${error.detail ?? error.code})`,
        clearSession: error.clearSession,
        cause: error,
      });
    }
    throw error;
  }
  return {
    claims: claimsOfIssued(granted),
    token: granted.accessToken.token,
    refreshed: granted,
    source: "refresh-cookie",
    proof: undefined,
  };
}
