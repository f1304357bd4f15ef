/**
 * Where the gateway serves the login through each provider (auth/routes.ts mounts them).
 * The OIDC_* settings' provider keeps its /auth/oidc/* paths; every provider also has
 * `/auth/login/<id>`, and those of LOGIN_PROVIDERS their own callback and back-channel
 * logout paths: a redirect URI per provider (RFC 9700 §4.4.2: a mix-up defence).
 */
import type { OidcConfig } from "../config/config";

export const OIDC_LOGIN_PATH = "/auth/oidc/login";
export const OIDC_CALLBACK_PATH = "/auth/oidc/callback";
export const OIDC_BACKCHANNEL_PATH = "/auth/oidc/backchannel-logout";
/** GET: the login chooser (every provider, and an email field for home-realm routing). */
export const LOGIN_CHOOSER_PATH = "/auth/login";
/** The path prefix of `/auth/login/<id>`, `/auth/login/<id>/callback`, `…/backchannel-logout`. */
export const PROVIDER_PATH_PREFIX = "/auth/login/";

type ProviderPaths = Pick<OidcConfig, "id" | "fromOidcSettings">;

export function loginPathOf(provider: ProviderPaths): string {
  return provider.fromOidcSettings ? OIDC_LOGIN_PATH : `${PROVIDER_PATH_PREFIX}${provider.id}`;
}

export function callbackPathOf(provider: ProviderPaths): string {
  return provider.fromOidcSettings ? OIDC_CALLBACK_PATH : `${PROVIDER_PATH_PREFIX}${provider.id}/callback`;
}

export function backchannelPathOf(provider: ProviderPaths): string {
  return provider.fromOidcSettings ? OIDC_BACKCHANNEL_PATH : `${PROVIDER_PATH_PREFIX}${provider.id}/backchannel-logout`;
}

/**
 * Where an unauthenticated navigation is sent: the one provider's login, or the chooser
 * when there are several.
 */
export function loginEntryPath(providers: readonly ProviderPaths[]): string {
  return providers.length === 1 ? loginPathOf(providers[0] as ProviderPaths) : LOGIN_CHOOSER_PATH;
}
