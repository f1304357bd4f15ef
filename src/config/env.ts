/**
 * The Worker's bindings, as declared in `wrangler.toml` (vars) and set as secrets.
 * Only `config/parse-config.ts` reads these; everything else gets the parsed config.
 */

import type { RevocationLedger } from "../revocation/revocation-ledger";
import type { IdpLogoutIndex } from "../sessions/idp-logout-index";
import type { SessionObject } from "../sessions/session-object";

export interface RateLimitBinding {
  limit(options: { key: string }): Promise<{ success: boolean }>;
}

export interface Env {
  // bindings
  REVOKED: KVNamespace;
  SESSIONS: DurableObjectNamespace<SessionObject>;
  /** Optional: IdP session id / subject → our sessions, and spent logout-token ids (OIDC). */
  IDP_LOGOUT_INDEX?: DurableObjectNamespace<IdpLogoutIndex>;
  /** The revocation ledger (docs/storage.md): records revocations, publishes the snapshot. */
  REVOCATIONS: DurableObjectNamespace<RevocationLedger>;
  /** Optional: the upstream as a service binding (the demo upstream in development). */
  UPSTREAM?: Fetcher;
  LOGIN_IP_LIMIT?: RateLimitBinding;
  LOGIN_ACCOUNT_LIMIT?: RateLimitBinding;
  REFRESH_IP_LIMIT?: RateLimitBinding;
  REFRESH_SESSION_LIMIT?: RateLimitBinding;

  // vars (wrangler.toml) — strings, or JSON values for the structured ones
  PORTCULLIS_ENV?: string;
  UPSTREAM_URL?: string;
  UPSTREAM_TIMEOUT_MS?: string;
  TOKEN_ISSUER?: string;
  TOKEN_AUDIENCE?: string;
  ACCESS_TOKEN_TTL?: string;
  REFRESH_TOKEN_TTL?: string;
  SESSION_IDLE_TTL?: string;
  REFRESH_GRACE_SECONDS?: string;
  CLOCK_TOLERANCE_SECONDS?: string;
  ACTIVE_SIGNING_KID?: string;
  VERIFY_JWKS?: string | object;
  JWKS_URL?: string;
  JWKS_CACHE_SECONDS?: string;
  JWKS_COOLDOWN_SECONDS?: string;
  ROUTES?: string | object;
  REVOCATION_CACHE_SECONDS?: string;
  ROTATION_RECORD?: string;
  WEBSOCKET_REVALIDATE_SECONDS?: string;
  CREDENTIAL_CHECK_PATH?: string;
  COOKIE_SAMESITE?: string;
  ACCESS_COOKIE?: string;
  REVOKE_CLIENT_ID?: string;
  REALM?: string;
  ALLOWED_ORIGINS?: string | object;
  OIDC_ISSUER?: string;
  OIDC_CLIENT_ID?: string;
  OIDC_SCOPES?: string;
  OIDC_AUTHORIZATION_PARAMS?: string;
  OIDC_SCOPE_CLAIM?: string;
  OIDC_ROLES_CLAIM?: string;
  OIDC_SUBJECT_PREFIX?: string;
  OIDC_REDIRECT_URI?: string;
  OIDC_POST_LOGOUT_REDIRECT_URI?: string;
  OIDC_FORWARD_IDP_TOKEN?: string;
  OIDC_REFRESH_SKEW_SECONDS?: string;
  OIDC_LOGIN_REDIRECT?: string;

  // secrets (`wrangler secret put`, `.dev.vars` locally)
  SIGNING_KEYS?: string;
  ACCESS_SECRET?: string;
  CREDENTIAL_CHECK_SECRET?: string;
  OPERATOR_TOKEN?: string;
  REVOKE_CLIENT_SECRET?: string;
  OIDC_CLIENT_SECRET?: string;
  OIDC_CLIENT_PRIVATE_KEY?: string;
  OIDC_SEALING_SECRET?: string;
}
