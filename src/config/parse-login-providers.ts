/**
 * LOGIN_PROVIDERS: more providers people sign in with, beside (or instead of) the OIDC_*
 * settings' one: any OpenID Connect provider, and GitHub (plain OAuth 2.0, no ID token).
 * Each has its own id, client, scopes, claim mapping, subject prefix and (optionally)
 * sealing secret; the chooser at GET /auth/login lists them all (docs/identities.md).
 *
 * ```toml
 * LOGIN_PROVIDERS = [
 *   { id = "google", issuer = "https://accounts.google.com", client_id = "…apps.googleusercontent.com",
 *     client_secret_env = "GOOGLE_CLIENT_SECRET", label = "Google",
 *     authorization_params = "access_type=offline&prompt=consent" },
 *   { id = "github", kind = "github", client_id = "Iv23li…", client_secret_env = "GITHUB_CLIENT_SECRET",
 *     label = "GitHub", orgs = ["acme"] },
 * ]
 * ```
 *
 * Every key is checked here, once: an unknown one is refused with the nearest known one,
 * and every message names the provider (`LOGIN_PROVIDERS: provider 1 (github) …`).
 */
import { SERVICE_SUBJECT_PREFIX } from "../schema/subject-prefixes";
import type { GatewayMode, OidcConfig } from "./config";
import type { ConfigEnv } from "./env";
import { ConfigError, json, text } from "./env-readers";
import { fail, parseProvider } from "./parse-login-provider";
import { OIDC_SETTINGS_PROVIDER_ID, parseOidcConfig, sharedLoginSettings } from "./parse-oidc-config";

/** At most this many providers: each is a button on the chooser and a client to keep. */
export const MAX_LOGIN_PROVIDERS = 16;

/** Two subject prefixes that could make one subject: equal, or one the start of the other. */
export function prefixesMeet(a: string, b: string): boolean {
  return a.startsWith(b) || b.startsWith(a);
}

/** Every login provider: the OIDC_* settings' first, then LOGIN_PROVIDERS'; empty when none. */
export function parseLoginProviders(env: ConfigEnv, mode: GatewayMode): readonly OidcConfig[] {
  const raw = json(env, "LOGIN_PROVIDERS");
  if (text(env, "OIDC_ISSUER") === undefined && (raw === undefined || (Array.isArray(raw) && raw.length === 0))) {
    return Object.freeze([]);
  }
  if (raw !== undefined && !Array.isArray(raw))
    throw fail("must be a list of providers ({ id, issuer, client_id, … })");
  const list = (raw ?? []) as unknown[];
  if (list.length > MAX_LOGIN_PROVIDERS) throw fail(`may list at most ${MAX_LOGIN_PROVIDERS} providers`);
  if (env.IDP_LOGOUT_INDEX === undefined) {
    throw new ConfigError(
      "IDP_LOGOUT_INDEX",
      "Durable Object binding is required with OIDC_ISSUER or LOGIN_PROVIDERS (see wrangler.toml)",
    );
  }
  const shared = sharedLoginSettings(env, mode);
  const primary = parseOidcConfig(env, mode, shared);
  const providers = [
    ...(primary ? [primary] : []),
    ...list.map((item, index) => parseProvider(item, index, env, mode, shared)),
  ];
  for (const [index, provider] of providers.entries()) {
    const name = provider.fromOidcSettings
      ? "OIDC_ISSUER's provider"
      : `provider ${index - (primary ? 1 : 0)} (${provider.id})`;
    for (const earlier of providers.slice(0, index)) {
      if (earlier.id === provider.id) throw fail(`${name} has the id of another provider`);
      if (earlier.issuer === provider.issuer && earlier.clientId === provider.clientId) {
        throw fail(`${name} has the issuer and client of ${earlier.id}; one entry per client`);
      }
      if (earlier.issuer === provider.issuer) {
        // Back-channel logout and one-time claims are kept per issuer: two clients of one
        // issuer would end each other's sessions.
        throw fail(`${name} has the issuer of ${earlier.id}; one provider per issuer`);
      }
      if (prefixesMeet(earlier.subjectPrefix, provider.subjectPrefix)) {
        throw fail(
          `${name}: subject prefix ${provider.subjectPrefix} and ${earlier.id}'s ${earlier.subjectPrefix} could make the same subject`,
        );
      }
    }
    if (provider.subjectPrefix !== "" && prefixesMeet(provider.subjectPrefix, SERVICE_SUBJECT_PREFIX)) {
      throw fail(
        `${name}: subject prefix ${provider.subjectPrefix} could make the same subject as a service client (${SERVICE_SUBJECT_PREFIX})`,
      );
    }
  }
  return Object.freeze(providers);
}

/**
 * The login provider a session or a path names (absent: the OIDC_* settings' provider, as
 * for sessions begun before LOGIN_PROVIDERS); undefined when it is no longer configured.
 */
export function loginProviderById(
  providers: readonly OidcConfig[],
  id: string = OIDC_SETTINGS_PROVIDER_ID,
): OidcConfig | undefined {
  return providers.find((provider) => provider.id === id);
}
