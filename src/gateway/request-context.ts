/**
 * Everything one request needs, built once at the edge of the Worker: the parsed config,
 * keys, stores, clock, the request's URL (parsed once, here) and its id. Handlers
 * receive this, never the raw env.
 */
import type { CredentialCheck } from "../auth/credential-check";
import type { GatewayConfig } from "../config/config";
import type { Env } from "../config/env";
import { configFor } from "../config/parse-config";
import { type Metrics, metricsFor } from "../metrics/metrics";
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
  /** The request's URL, parsed once for the whole pipeline. */
  readonly url: URL;
  readonly requestId: string;
  readonly clientIp: string | undefined;
  readonly now: () => number;
  /** Counters of what the gateway decides (METRICS binding; a no-op without it). */
  readonly metrics: Metrics;
  /** Work that may finish after the answer (the platform's waitUntil; a no-op without one). */
  readonly waitUntil: (promise: Promise<unknown>) => void;
}

const stores = new WeakMap<GatewayConfig, RevocationStore>();
const upstreams = new WeakMap<GatewayConfig, Upstream>();

function revocationStoreFor(config: GatewayConfig, env: Env, now: () => number): RevocationStore {
  let store = stores.get(config);
  if (store === undefined) {
    store = new RevocationStore(env.REVOKED, env.REVOCATIONS, { cacheSeconds: config.revocationCacheSeconds, now });
    stores.set(config, store);
  }
  return store;
}

function upstreamFor(config: GatewayConfig, env: Env): Upstream {
  let upstream = upstreams.get(config);
  if (upstream === undefined) {
    upstream = { config, binding: env.UPSTREAM };
    upstreams.set(config, upstream);
  }
  return upstream;
}

// Cloudflare's own id for the request ("8f2b3c4d5e6f7a8b-LHR"): the one its logs show.
const CF_RAY = /^[0-9a-f]{16}(-[A-Z]{3})?$/;
// Elsewhere (wrangler dev, tests): a random per-isolate prefix and a sequence number, in
// the shape of a UUID. Unique without a call into the runtime's random source per request.
// (Randomness is not available at a Worker's global scope: the prefix is made on first use.)
let localIdPrefix: string | undefined;
let localSequence = 0;

/** The request's id: the platform's `cf-ray` where there is one, else an isolate-unique id. */
export function requestIdOf(headers: Headers): string {
  const ray = headers.get("cf-ray");
  if (ray !== null && CF_RAY.test(ray)) return ray;
  localIdPrefix ??= crypto.randomUUID().slice(0, 24);
  localSequence = (localSequence + 1) % 0x1000000000000;
  return localIdPrefix + localSequence.toString(16).padStart(12, "0");
}

export interface RequestContextOptions {
  /** Settings parsed elsewhere (portcullis/hono); the standalone Worker's come from its env. */
  readonly config?: GatewayConfig;
  readonly credentialCheck?: CredentialCheck;
  /** The platform's ExecutionContext, for work after the answer (metrics). */
  readonly execution?: Pick<ExecutionContext, "waitUntil">;
}

export async function createRequestContext(
  env: Env,
  request: Request,
  options: RequestContextOptions = {},
): Promise<RequestContext> {
  const now = Date.now;
  const waitUntil = (promise: Promise<unknown>) => options.execution?.waitUntil(promise);
  const metrics = metricsFor(env.METRICS, waitUntil);
  const config = options.config ?? configFor(env);
  const keys = await keyRingFor(config);
  const headers = request.headers;
  const requestId = requestIdOf(headers);
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
        subjectIndex: env.SUBJECT_SESSIONS,
        metrics,
        revocations,
        keys,
        now,
        requestId,
      });
      return sessions;
    },
    upstream: upstreamFor(config, env),
    credentialCheck: options.credentialCheck,
    url: new URL(request.url),
    requestId,
    clientIp: headers.get("cf-connecting-ip") ?? undefined,
    now,
    metrics,
    waitUntil,
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
