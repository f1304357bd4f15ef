/**
 * What Portcullis reads from a Worker's env: the bindings it needs (declare them in your
 * wrangler.toml) and the settings of config/env.ts.
 *
 * This is the contract any Worker that runs Portcullis meets, the standalone one or your
 * own Hono app. The standalone Worker's own `Env` is not kept by hand: `npm run types`
 * generates it from wrangler.toml (worker-configuration.d.ts) and gateway/standalone-env.ts
 * checks that it meets this contract, so wrangler.toml and the code cannot drift apart.
 *
 * Here, not in config/, because the Durable Object bindings are typed by their classes
 * (sessions/, revocation/), which sit above config.
 */
import type { PortcullisSettings, RateLimitBinding } from "../config/env";
import type { ServiceClients } from "../machines/service-clients";
import type { RevocationLedger } from "../revocation/revocation-ledger";
import type { IdpLogoutIndex } from "../sessions/idp-logout-index";
import type { SessionObject } from "../sessions/session-object";
import type { SubjectSessions } from "../sessions/subject-sessions";

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
  /** Optional: service clients for machines (POST /auth/token, docs/identities.md); without it that is off. */
  SERVICE_CLIENTS?: DurableObjectNamespace<ServiceClients>;
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

export type Env = PortcullisBindings & PortcullisSettings;
