/**
 * The provider's tokens inside a session's Durable Object: sealed at rest (AES-GCM, key
 * from OIDC_SEALING_SECRET, bound to the session id), and refreshed at the provider when
 * the access token is expired or about to expire. Only the session object calls these,
 * inside its serialization, so a session never refreshes at the provider twice at once.
 */
import type { OidcConfig } from "../config/config";
import type { IdpTokens } from "../oidc/idp-tokens";
import { seal, unsealNoting, unsealWithAny } from "../oidc/sealing";
import { refreshIdpTokens } from "../oidc/token-refresh";

/** What the session record holds about the provider (see docs/storage.md). */
export interface IdpState {
  /** The IdpTokens (access, refresh and ID token, the provider's sub and sid), sealed. */
  readonly sealed: string;
  /** Milliseconds since the epoch; in clear so deciding to refresh needs no decryption. */
  readonly accessExpiresAt: number | undefined;
  /** The login provider's id, in clear: its settings (and sealing secret) open the seal. Absent: "oidc". */
  readonly provider?: string;
}

export function sealIdpTokens(config: OidcConfig, sid: string, tokens: IdpTokens): Promise<IdpState> {
  return seal(config.sealingSecrets.current, "idp-tokens", sid, tokens).then((sealed) => ({
    sealed,
    accessExpiresAt: tokens.accessExpiresAt,
    provider: config.id,
  }));
}

export async function openIdpTokens(config: OidcConfig, sid: string, state: IdpState): Promise<IdpTokens | undefined> {
  return (await unsealWithAny(config.sealingSecrets, "idp-tokens", sid, state.sealed)) as IdpTokens | undefined;
}

export type FreshIdpTokens =
  | {
      readonly ok: true;
      readonly tokens: IdpTokens;
      readonly state: IdpState;
      /** Refreshed at the provider; `state` holds the new tokens. */
      readonly refreshed: boolean;
      /** The previous sealing secret opened them; `state` is sealed anew with the current one. */
      readonly resealed: boolean;
    }
  | { readonly ok: false; readonly reason: "grant_invalid" | "unavailable"; readonly detail: string };

/** Is the access token expired, or will it be within the configured skew? */
export function needsRefresh(config: OidcConfig, state: IdpState, now: number): boolean {
  return state.accessExpiresAt !== undefined && now >= state.accessExpiresAt - config.refreshSkewSeconds * 1000;
}

/**
 * The session's provider tokens, refreshed first when they are about to expire. A seal
 * that no longer opens (the sealing secret changed) counts as an ended grant; one that only
 * OIDC_SEALING_SECRET_PREVIOUS opens is sealed anew with the current secret, so that every
 * session that refreshes once after a rotation no longer needs the previous secret.
 */
export async function freshIdpTokens(
  config: OidcConfig,
  sid: string,
  state: IdpState,
  now: number,
  options: { refreshIfStale: boolean },
): Promise<FreshIdpTokens> {
  const opened = await unsealNoting(config.sealingSecrets, "idp-tokens", sid, state.sealed);
  if (opened === undefined) return { ok: false, reason: "grant_invalid", detail: "sealed IdP tokens do not open" };
  const tokens = opened.value as IdpTokens;
  const resealed = opened.byPrevious;
  const current = resealed ? await sealIdpTokens(config, sid, tokens) : state;
  // Without a provider refresh token (none was granted) there is nothing to refresh: the
  // session lives on its own lifetime, unless the upstream needs the provider's token fresh.
  const cannotRefresh = tokens.refreshToken === undefined && !config.forwardIdpToken;
  if (!options.refreshIfStale || cannotRefresh || !needsRefresh(config, state, now)) {
    return { ok: true, tokens, state: current, refreshed: false, resealed };
  }
  const result = await refreshIdpTokens(config, tokens, now);
  if (!result.ok) return result;
  return {
    ok: true,
    tokens: result.tokens,
    state: await sealIdpTokens(config, sid, result.tokens),
    refreshed: true,
    resealed,
  };
}
