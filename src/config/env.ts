/**
 * What Portcullis reads from a Worker's env: the bindings it needs and the settings (vars
 * and secrets) documented in docs/configuration.md. Only src/config/ reads the settings;
 * everything else gets the parsed config.
 *
 * This is the contract any Worker that runs Portcullis meets, the standalone one or your
 * own Hono app. The standalone Worker's own `Env` is not kept by hand: `npm run types`
 * generates it from wrangler.toml (worker-configuration.d.ts) and config/standalone-env.ts checks that
 * it meets this contract, so wrangler.toml and the code cannot drift apart.
 */
import type { RevocationLedger } from "../revocation/revocation-ledger";
import type { IdpLogoutIndex } from "../sessions/idp-logout-index";
import type { SessionObject } from "../sessions/session-object";
import type { SubjectSessions } from "../sessions/subject-sessions";

/** The part of a Workers rate-limiting binding Portcullis uses. */
export interface RateLimitBinding {
  limit(options: { key: string }): Promise<{ success: boolean }>;
}

/** The bindings Portcullis uses; declare them in your wrangler.toml. */
export interface PortcullisBindings {
  /** Workers KV namespace for the revocation list. */
  REVOKED: KVNamespace;
  /** Durable Object namespace of the `SessionObject` class. */
  SESSIONS: DurableObjectNamespace<SessionObject>;
  /** The revocation ledger (docs/storage.md): records revocations, publishes the snapshot. */
  REVOCATIONS: DurableObjectNamespace<RevocationLedger>;
  /** Optional: IdP session id / subject → our sessions, and spent logout-token ids (OIDC). */
  IDP_LOGOUT_INDEX?: DurableObjectNamespace<IdpLogoutIndex>;
  /** Optional: per subject, the index of their live sessions (GET /auth/sessions, MAX_SESSIONS_PER_USER). */
  SUBJECT_SESSIONS?: DurableObjectNamespace<SubjectSessions>;
  /** Optional: a Workers Analytics Engine dataset for the gateway's counters (docs/operations.md). */
  METRICS?: AnalyticsEngineDataset;
  /** Optional: the upstream as a service binding (standalone gateway). */
  UPSTREAM?: Fetcher;
  /** Optional rate limits; without them the endpoint is not limited. */
  LOGIN_IP_LIMIT?: RateLimitBinding;
  LOGIN_ACCOUNT_LIMIT?: RateLimitBinding;
  REFRESH_IP_LIMIT?: RateLimitBinding;
  REFRESH_SESSION_LIMIT?: RateLimitBinding;
}

/** The settings that are secrets (`wrangler secret put`, `.dev.vars` locally), never vars or code. */
export const SECRET_NAMES = [
  "SIGNING_KEYS",
  "ACCESS_SECRET",
  "CREDENTIAL_CHECK_SECRET",
  "OPERATOR_TOKEN",
  "REVOKE_CLIENT_SECRET",
  "OIDC_CLIENT_SECRET",
  "OIDC_CLIENT_PRIVATE_KEY",
  "OIDC_SEALING_SECRET",
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
  "ROUTES",
  "REVOCATION_CACHE_SECONDS",
  "ROTATION_RECORD",
  "MAX_SESSIONS_PER_USER",
  "WEBSOCKET_REVALIDATE_SECONDS",
  "CREDENTIAL_CHECK_PATH",
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
  ...SECRET_NAMES,
] as const;

export type SettingName = (typeof SETTING_NAMES)[number];

/**
 * The settings as they arrive: strings from vars and secrets, or JSON values (numbers,
 * booleans, lists, objects) for vars written as TOML values.
 */
export type PortcullisSettings = { readonly [Name in SettingName]?: unknown };

export type Env = PortcullisBindings & PortcullisSettings;
