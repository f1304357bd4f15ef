/**
 * The settings Portcullis reads from a Worker's env (vars and secrets, documented in
 * docs/configuration.md). Only src/config/ reads them; everything else gets the parsed
 * config. The bindings, and the whole env a Worker running Portcullis must have, are in
 * gateway/env.ts.
 */

/** The part of a Workers rate-limiting binding Portcullis uses. */
export interface RateLimitBinding {
  limit(options: { key: string }): Promise<{ success: boolean }>;
}

/** The settings that are secrets (`wrangler secret put`, `.dev.vars` locally), never vars or code. */
export const SECRET_NAMES = [
  "SIGNING_KEYS",
  "SIGNING_KEYS_PREVIOUS",
  "ACCESS_SECRET",
  "CREDENTIAL_CHECK_SECRET",
  "OPERATOR_TOKEN",
  "OPERATOR_TOKEN_PREVIOUS",
  "REVOKE_CLIENT_SECRET",
  "OIDC_CLIENT_SECRET",
  "OIDC_CLIENT_PRIVATE_KEY",
  "OIDC_SEALING_SECRET",
  "OIDC_SEALING_SECRET_PREVIOUS",
  "DPOP_NONCE_SECRET",
] as const;

/** Every setting, as a var in wrangler.toml or a secret; see docs/configuration.md. */
export const SETTING_NAMES = [
  "PORTCULLIS_ENV",
  "UPSTREAM_URL",
  "UPSTREAM_TIMEOUT_MS",
  "TOKEN_ISSUER",
  "TOKEN_AUDIENCE",
  "ACCESS_TOKEN_TTL",
  "REFRESH_TOKEN_TTL",
  "SESSION_IDLE_TTL",
  "REFRESH_GRACE_SECONDS",
  "CLOCK_TOLERANCE_SECONDS",
  "ACTIVE_SIGNING_KID",
  "VERIFY_JWKS",
  "JWKS_URL",
  "JWKS_CACHE_SECONDS",
  "JWKS_COOLDOWN_SECONDS",
  "TRUSTED_ISSUERS",
  "ROUTES",
  "ALLOW_PATH_SEMICOLONS",
  "ALLOW_DOUBLE_SLASHES",
  "ALLOW_ENCODED_SLASHES",
  "UPSTREAM_METHOD_OVERRIDE",
  "REVOCATION_CACHE_SECONDS",
  "ROTATION_RECORD",
  "MAX_SESSIONS_PER_USER",
  "WEBSOCKET_REVALIDATE_SECONDS",
  "CREDENTIAL_CHECK_PATH",
  "PASSWORD_LOGIN",
  "RATE_LIMITS",
  "COOKIE_SAMESITE",
  "ACCESS_COOKIE",
  "REVOKE_CLIENT_ID",
  "REALM",
  "ALLOWED_ORIGINS",
  "OIDC_ISSUER",
  "OIDC_CLIENT_ID",
  "OIDC_SCOPES",
  "OIDC_AUTHORIZATION_PARAMS",
  "OIDC_SCOPE_CLAIM",
  "OIDC_ROLES_CLAIM",
  "OIDC_SUBJECT_PREFIX",
  "OIDC_REDIRECT_URI",
  "OIDC_POST_LOGOUT_REDIRECT_URI",
  "OIDC_FORWARD_IDP_TOKEN",
  "OIDC_REFRESH_SKEW_SECONDS",
  "OIDC_LOGIN_REDIRECT",
  "OIDC_LABEL",
  "LOGIN_PROVIDERS",
  "DPOP_SESSIONS",
  "DPOP_PROOF_MAX_AGE",
  "DPOP_NONCE",
  "UPSTREAM_ASSERTION",
  "UPSTREAM_ASSERTION_AUDIENCE",
  "UPSTREAM_ASSERTION_CLAIMS",
  "SERVICE_TOKEN_HEADER",
  ...SECRET_NAMES,
] as const;

export type SettingName = (typeof SETTING_NAMES)[number];

/**
 * The settings as they arrive: strings from vars and secrets, or JSON values (numbers,
 * booleans, lists, objects) for vars written as TOML values.
 */
export type PortcullisSettings = { readonly [Name in SettingName]?: unknown };

/**
 * What src/config/ reads from an env: the settings, and whether two optional bindings are
 * there. The bindings' own types (Durable Object classes of sessions/ and revocation/)
 * are gateway/env.ts's business: config sits below those layers and does not import them.
 */
export type ConfigEnv = PortcullisSettings & {
  /** The upstream as a service binding: the upstream is then reached through it. */
  readonly UPSTREAM?: unknown;
  /** Required by OIDC (back-channel logout). */
  readonly IDP_LOGOUT_INDEX?: unknown;
};
