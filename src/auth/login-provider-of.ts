/**
 * Which login provider a request to one of the login paths is for: `/auth/login/<id>`,
 * `/auth/login/<id>/callback`, `/auth/login/<id>/backchannel-logout`, or the OIDC_*
 * settings' provider at /auth/oidc/*. An id that names no provider is a 404, as is a
 * callback or back-channel path that is not the provider's own (the OIDC_* settings'
 * provider keeps /auth/oidc/callback: the redirect URI registered at its provider).
 */
import type { OidcConfig } from "../config/config";
import { loginProviderById } from "../config/parse-login-providers";
import { GatewayError } from "../errors/gateway-error";
import type { RequestContext } from "../gateway/request-context";
import { backchannelPathOf, callbackPathOf, loginPathOf, PROVIDER_PATH_PREFIX } from "../oidc/endpoints";

/** Every configured provider, or a 404 when login through a provider is not configured. */
export function loginProvidersOf(context: RequestContext): readonly OidcConfig[] {
  const providers = context.config.loginProviders;
  if (providers.length === 0) throw new GatewayError("oidc_disabled");
  return providers;
}

/** The OIDC_* settings' provider (for /auth/oidc/callback and /auth/oidc/backchannel-logout). */
export function oidcSettingsProvider(context: RequestContext): OidcConfig {
  const provider = loginProvidersOf(context).find((candidate) => candidate.fromOidcSettings);
  if (provider === undefined) throw new GatewayError("oidc_disabled");
  return provider;
}

export type ProviderPathKind = "login" | "callback" | "backchannel";

const PATH_OF: Record<ProviderPathKind, (provider: OidcConfig) => string> = {
  login: loginPathOf,
  callback: callbackPathOf,
  backchannel: backchannelPathOf,
};

/** The provider `/auth/login/<id>…` names, when `kind`'s path of that provider is this request's. */
export function providerOfPath(context: RequestContext, kind: ProviderPathKind): OidcConfig {
  const providers = loginProvidersOf(context);
  const id = context.path.slice(PROVIDER_PATH_PREFIX.length).split("/")[0] ?? "";
  const provider = loginProviderById(providers, id);
  // `/auth/login/oidc` starts the OIDC_* settings' provider's login too; its callback and
  // back-channel paths are its /auth/oidc/* ones only.
  const ownPath =
    provider === undefined ? undefined : kind === "login" ? `${PROVIDER_PATH_PREFIX}${id}` : PATH_OF[kind](provider);
  if (provider === undefined || ownPath !== context.path) {
    throw new GatewayError("not_found", { detail: "no login provider at this path" });
  }
  return provider;
}
