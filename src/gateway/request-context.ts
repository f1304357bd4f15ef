/**
 * Everything one request needs, built once at the edge of the Worker: the parsed config,
 * keys, stores, clock, the request's URL (parsed once, here) and its id. Handlers
 * receive this, never the raw env.
 */
import { type CanonicalPath, canonicalPath } from "../canonical/canonical-path";
import type { GatewayConfig } from "../config/config";
import { configFor } from "../config/parse-config";
import { type Metrics, metricsFor } from "../metrics/metrics";
import type { Upstream } from "../proxy/forward";
import { type IncomingHeaders, readIncomingHeaders } from "../proxy/upstream-request";
import { RevocationStore, type Revocations } from "../revocation/revocation-store";
import { Sessions } from "../sessions/sessions";
import { type KeyRing, keyRingFor } from "../tokens/key-ring";
import type { VerifyOptions } from "../tokens/verify-access-token";
import type { CredentialCheck } from "./credential-check-contract";
import type { Env } from "./env";

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
  /** The request's URL as the runtime gave it (`request.url`). */
  readonly href: string;
  /**
   * The request's path in its canonical form (canonical/canonical-path.ts): what rules are
   * judged on and what the upstream receives. When the path has none (`canonical.ok` is
   * false; the request is refused first), the runtime's `url.pathname`.
   */
  readonly path: string;
  /** The canonical path, its readings, or why the path has none. */
  readonly canonical: CanonicalPath;
  /** The request's method, read once, in upper case (as rules name it and the upstream gets it). */
  readonly method: string;
  /** The request's headers, read once for the whole pipeline. */
  readonly incoming: IncomingHeaders;
  readonly requestId: string;
  readonly clientIp: string | undefined;
  readonly now: () => number;
  /** Counters of what the gateway decides (METRICS binding; a no-op without it). */
  readonly metrics: Metrics;
  /** Work that may finish after the answer (the platform's waitUntil; a no-op without one). */
  readonly waitUntil: (promise: Promise<unknown>) => void;
}

/**
 * What every request of an isolate shares for one config, made on its first request:
 * the resolved key ring (later requests need no await for it), the revocation store with
 * its snapshot cache, and the upstream. Requests then build only their own small part.
 *
 * The revocation store is one per isolate and KV namespace, whatever the config: in a
 * Hono app, `mountAuthEndpoints` and `portcullis()` may hold two configs, and a logout
 * the endpoints record must bite in the middleware on the next request (the store keeps
 * this isolate's own revocations, which the published snapshot only later carries).
 */
interface Shared {
  readonly config: GatewayConfig;
  readonly keys: KeyRing;
  readonly store: RevocationStore;
  readonly upstream: Upstream;
}

const shared = new WeakMap<GatewayConfig, Shared>();
const stores = new WeakMap<object, RevocationStore>();

function storeFor(env: Env, config: GatewayConfig): RevocationStore {
  const key: object = env.REVOKED ?? config;
  let store = stores.get(key);
  if (store === undefined) {
    store = new RevocationStore(env.REVOKED, env.REVOCATIONS, {
      cacheSeconds: config.revocationCacheSeconds,
      now: Date.now,
    });
    stores.set(key, store);
  }
  return store;
}

async function makeShared(config: GatewayConfig, env: Env): Promise<Shared> {
  const keys = await keyRingFor(config);
  let made = shared.get(config);
  if (made === undefined) {
    made = Object.freeze({
      config,
      keys,
      store: storeFor(env, config),
      upstream: { config, binding: env.UPSTREAM },
    });
    shared.set(config, made);
  }
  return made;
}

// Cloudflare's own id for the request ("8f2b3c4d5e6f7a8b-LHR"): the one its logs show.
const CF_RAY = /^[0-9a-f]{16}(-[A-Z]{3})?$/;
// Elsewhere (wrangler dev, tests): a random per-isolate prefix and a sequence number, in
// the shape of a UUID. Unique without a call into the runtime's random source per request.
// (Randomness is not available at a Worker's global scope: the prefix is made on first use.)
let localIdPrefix: string | undefined;
let localSequence = 0;

/** The request's id: the platform's `cf-ray` where there is one, else an isolate-unique id. */
export function requestIdOf(ray: string | null): string {
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

/**
 * One request's context: a few fields, and getters for what most requests never need
 * (the session client, metrics, the revocation view, the client's address), built on
 * first use. A class, so a request allocates one object and no closures.
 */
class PerRequestContext implements RequestContext {
  readonly config: GatewayConfig;
  readonly env: Env;
  readonly keys: KeyRing;
  readonly upstream: Upstream;
  readonly credentialCheck: CredentialCheck | undefined;
  readonly url: URL;
  readonly href: string;
  readonly path: string;
  readonly canonical: CanonicalPath;
  readonly method: string;
  readonly incoming: IncomingHeaders;
  readonly requestId: string;
  readonly now = Date.now;
  readonly #shared: Shared;
  readonly #execution: Pick<ExecutionContext, "waitUntil"> | undefined;
  #revocations: Revocations | undefined;
  #metrics: Metrics | undefined;
  #sessions: Sessions | undefined;

  constructor(base: Shared, env: Env, request: Request, options: RequestContextOptions) {
    this.#shared = base;
    this.#execution = options.execution;
    this.config = base.config;
    this.env = env;
    this.keys = base.keys;
    this.upstream = base.upstream;
    this.credentialCheck = options.credentialCheck;
    // Each property of a Request is a call into the runtime: these are read once, here.
    this.href = request.url;
    this.url = new URL(this.href);
    const pathname = this.url.pathname;
    this.canonical = canonicalPath(pathname, base.config.paths);
    this.path = this.canonical.ok ? this.canonical.path : pathname;
    this.method = request.method.toUpperCase();
    this.incoming = readIncomingHeaders(request.headers, base.config.serviceTokenHeader?.key);
    this.requestId = requestIdOf(this.incoming.cfRay);
  }

  get revocations(): Revocations {
    this.#revocations ??= this.#shared.store.forRequest(this.requestId);
    return this.#revocations;
  }

  get metrics(): Metrics {
    this.#metrics ??= metricsFor(this.env.METRICS, (promise) => this.waitUntil(promise));
    return this.#metrics;
  }

  get sessions(): Sessions {
    this.#sessions ??= new Sessions({
      config: this.config,
      namespace: this.env.SESSIONS,
      logoutIndex: this.env.IDP_LOGOUT_INDEX,
      subjectIndex: this.env.SUBJECT_SESSIONS,
      metrics: this.metrics,
      revocations: this.revocations,
      keys: this.keys,
      now: this.now,
      requestId: this.requestId,
    });
    return this.#sessions;
  }

  get clientIp(): string | undefined {
    return this.incoming.clientIp;
  }

  waitUntil(promise: Promise<unknown>): void {
    this.#execution?.waitUntil(promise);
  }
}

/**
 * The context of one request: synchronous once the isolate has served a request with this
 * config, a promise on the first (the keys are imported then). Throws for a bad config.
 */
export function requestContext(
  env: Env,
  request: Request,
  options: RequestContextOptions = {},
): RequestContext | Promise<RequestContext> {
  const config = options.config ?? configFor(env);
  const base = shared.get(config);
  if (base !== undefined) return new PerRequestContext(base, env, request, options);
  return makeShared(config, env).then((made) => new PerRequestContext(made, env, request, options));
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
