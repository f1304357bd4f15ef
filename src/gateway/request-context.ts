/**
 * Everything one request needs, built once at the edge of the app: the parsed config,
 * keys, stores and clock. Handlers receive this, never the raw env.
 */
import type { CredentialCheck } from "../auth/credential-check";
import type { GatewayConfig } from "../config/config";
import type { Env } from "../config/env";
import { configFor } from "../config/parse-config";
import type { Upstream } from "../proxy/forward";
import { RevocationStore, type Revocations } from "../revocation/revocation-store";
import { Sessions } from "../sessions/sessions";
import { type KeyRing, keyRingFor } from "../tokens/key-ring";
import type { VerifyOptions } from "../tokens/verify-access-token";

export interface RequestContext {
  readonly config: GatewayConfig;
  readonly env: Env;
  readonly keys: KeyRing;
  readonly revocations: Revocations;
  readonly sessions: Sessions;
  readonly upstream: Upstream;
  /** Who is logging in, when the app checks credentials in code (portcullis/hono). */
  readonly credentialCheck: CredentialCheck | undefined;
  readonly requestId: string;
  readonly clientIp: string | undefined;
  readonly now: () => number;
}

const stores = new WeakMap<GatewayConfig, RevocationStore>();

function revocationStoreFor(config: GatewayConfig, env: Env, now: () => number): RevocationStore {
  let store = stores.get(config);
  if (store === undefined) {
    store = new RevocationStore(env.REVOKED, env.REVOCATIONS, { cacheSeconds: config.revocationCacheSeconds, now });
    stores.set(config, store);
  }
  return store;
}

export interface RequestContextOptions {
  /** Settings parsed elsewhere (portcullis/hono); the standalone Worker's come from its env. */
  readonly config?: GatewayConfig;
  readonly credentialCheck?: CredentialCheck;
}

export async function createRequestContext(
  env: Env,
  request: Request,
  options: RequestContextOptions = {},
): Promise<RequestContext> {
  const now = Date.now;
  const config = options.config ?? configFor(env);
  const keys = await keyRingFor(config);
  const requestId = crypto.randomUUID();
  const revocations = revocationStoreFor(config, env, now).forRequest(requestId);
  let sessions: Sessions | undefined;
  return {
    config,
    env,
    keys,
    revocations,
    // Most requests never touch a session; build the client on first use.
    get sessions() {
      sessions ??= new Sessions({
        config,
        namespace: env.SESSIONS,
        logoutIndex: env.IDP_LOGOUT_INDEX,
        revocations,
        keys,
        now,
        requestId,
      });
      return sessions;
    },
    upstream: { config, binding: env.UPSTREAM },
    credentialCheck: options.credentialCheck,
    requestId,
    clientIp: request.headers.get("cf-connecting-ip") ?? undefined,
    now,
  };
}

/** How this request verifies access tokens: the configured issuer, audience and tolerance, now. */
export function verifyOptionsFor(context: RequestContext): VerifyOptions {
  const { config } = context;
  return {
    issuer: config.issuer,
    audience: config.audience,
    clockToleranceSeconds: config.clockToleranceSeconds,
    now: context.now(),
  };
}
