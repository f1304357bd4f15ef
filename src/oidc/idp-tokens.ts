/** The provider's tokens for one session, as the session object keeps them (sealed). */
export interface IdpTokens {
  readonly accessToken: string;
  /** Milliseconds since the epoch; undefined when the provider did not say. */
  readonly accessExpiresAt: number | undefined;
  readonly refreshToken: string | undefined;
  /** Undefined for GitHub, which has none. */
  readonly idToken: string | undefined;
  /**
   * The login provider's id (LOGIN_PROVIDERS, or "oidc"); absent in sessions begun before
   * there were several, which are the OIDC_* settings' provider's.
   */
  readonly provider?: string;
  /** The provider's `sub` (not namespaced) and session id, from the ID token (GitHub: its user id). */
  readonly sub: string;
  readonly sid: string | undefined;
}

/** When the access token a token response carries expires. */
export function accessExpiry(expiresIn: number | undefined, now: number): number | undefined {
  return typeof expiresIn === "number" && Number.isFinite(expiresIn) && expiresIn > 0
    ? now + expiresIn * 1000
    : undefined;
}
