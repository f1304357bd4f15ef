/**
 * A remote JWKS (JWKS_URL, or an OIDC provider's jwks_uri), cached across requests in the isolate.
 *
 * - Fresh for JWKS_CACHE_SECONDS. Once stale, a token whose `kid` the cached set knows is
 *   still verified at once with that key while one refetch runs in the background
 *   (stale-while-revalidate): a slow provider costs no such request its latency. A key the
 *   provider withdrew therefore verifies until that refetch lands (at most the fetch timeout).
 * - A `kid` the set does not know starts a refetch, at most once per JWKS_COOLDOWN_SECONDS
 *   (a flood of random kids cannot hammer the provider), or joins the one running, and
 *   waits for it for at most the fetch timeout: a provider's key rotation is picked up.
 * - A failed or garbage fetch keeps the last-known-good keys, however old; the next
 *   attempt waits for the cooldown and at least RETRY_AFTER_FAILURE_MS, never a request
 *   each. Validation only fails (`keys_unavailable`, told apart from a bad token in the
 *   log) when no usable key was ever fetched.
 *
 * No promise is shared between requests: a Worker must not continue one request's I/O in
 * another's. The request that starts a refetch owns it and keeps it alive past its answer
 * with the platform's waitUntil; the others only read the state it leaves, waiting on
 * their own timers (the pattern of revocation-store.ts).
 */
import { type CryptoKey, importJWK, type JWK } from "jose";
import { GatewayError } from "../errors/gateway-error";
import { log } from "../log/logger";
import type { VerificationKey } from "./verification-key";

/** How long one fetch may take, and so how long a request may wait for one. */
const FETCH_TIMEOUT_MS = 5_000;
/** A refetch still running this long after its timeout was cancelled with its request (no waitUntil): it never settles. */
const ABANDON_GRACE_MS = 1_000;
/** After a failed fetch, the provider is not asked again sooner than this, whatever the cooldown. */
export const RETRY_AFTER_FAILURE_MS = 5_000;
/** How often a request waiting for another's refetch looks at the outcome. */
const WAIT_STEP_MS = 20;
const MAX_JWKS_BYTES = 64 * 1024;

type WaitUntil = (promise: Promise<unknown>) => void;

/**
 * The platform's waitUntil, which applies to whatever request is running (workerd's
 * `cloudflare:workers`). The key ring is built once per isolate, so no request's
 * ExecutionContext can be handed in. Imported dynamically: this module also runs in Node
 * (the CLI, unit tests), where there is none and background work needs none. It is loaded
 * long before a set first goes stale (a cold set is fetched by a request that waits).
 */
let platformWaitUntil: WaitUntil | undefined;
import("cloudflare:workers").then(
  (workers) => {
    platformWaitUntil = workers.waitUntil;
  },
  () => undefined,
);

/** The algorithm a public JWK is for: its `alg`, or the one its key type implies. */
export function algorithmForKey(jwk: JWK): string | undefined {
  if (jwk.use !== undefined && jwk.use !== "sig") return undefined;
  const implied =
    jwk.kty === "OKP" && jwk.crv === "Ed25519"
      ? "EdDSA"
      : jwk.kty === "EC" && jwk.crv === "P-256"
        ? "ES256"
        : jwk.kty === "RSA"
          ? "RS256"
          : undefined;
  if (implied === undefined) return undefined;
  if (jwk.alg !== undefined && jwk.alg !== implied) return undefined;
  return implied;
}

export interface RemoteKeySetOptions {
  cacheSeconds: number;
  cooldownSeconds: number;
  fetcher: typeof fetch;
  /** Keeps a background refetch alive after the answer of the request that started it. Default: the platform's. */
  waitUntil?: WaitUntil;
  /** How long one fetch may take, and a request wait for one. Default 5,000 ms. */
  fetchTimeoutMs?: number;
}

/** One refetch: its number (later ones win) and the request time it started at. */
interface Attempt {
  readonly id: number;
  readonly startedAt: number;
}

export class RemoteKeySet {
  readonly #url: string;
  readonly #options: RemoteKeySetOptions;
  readonly #timeoutMs: number;
  #keys: VerificationKey[] | undefined;
  #fetchedAt = Number.NEGATIVE_INFINITY;
  #attemptedAt = Number.NEGATIVE_INFINITY;
  #lastFailed = false;
  #attempts = 0;
  #settled = 0;
  #running: Attempt | undefined;

  constructor(url: string, options: RemoteKeySetOptions) {
    this.#url = url;
    this.#options = options;
    this.#timeoutMs = options.fetchTimeoutMs ?? FETCH_TIMEOUT_MS;
  }

  /**
   * The key for a token's `kid` (or its `alg`, when it names no kid), or undefined when
   * the set has none. Throws `keys_unavailable` when the set was never fetched.
   */
  async get(kid: string | undefined, alg: string | undefined, now: number): Promise<VerificationKey | undefined> {
    const stale = now - this.#fetchedAt > this.#options.cacheSeconds * 1000;
    let found = this.#find(kid, alg);
    if (found !== undefined) {
      if (stale) this.#startRefetch(now);
      return found;
    }
    // Without a kid, a fresh set that has no key for the alg will not have one after a refetch.
    if (this.#keys === undefined || stale || kid !== undefined) {
      const started = this.#startRefetch(now);
      if (started !== undefined) {
        await started;
      } else {
        const running = this.#runningAt(now);
        if (running !== undefined) await this.#waitFor(running.id);
      }
      found = this.#find(kid, alg);
    }
    if (this.#keys === undefined) {
      throw new GatewayError("keys_unavailable", { detail: "remote JWKS has never been fetched successfully" });
    }
    return found;
  }

  #find(kid: string | undefined, alg: string | undefined): VerificationKey | undefined {
    const keys = this.#keys ?? [];
    if (kid !== undefined) return keys.find((key) => key.kid === kid);
    const candidates = keys.filter((key) => key.alg === alg);
    return candidates.length === 1 ? candidates[0] : undefined;
  }

  /**
   * Starts a refetch unless one is running or the last one began too recently; returns it
   * only to the request that started it (the one request allowed to await it).
   */
  #startRefetch(now: number): Promise<void> | undefined {
    if (this.#runningAt(now) !== undefined) return undefined;
    const cooldown = this.#options.cooldownSeconds * 1000;
    const pause = this.#lastFailed ? Math.max(cooldown, RETRY_AFTER_FAILURE_MS) : cooldown;
    if (now - this.#attemptedAt < pause) return undefined;
    this.#attempts += 1;
    const attempt: Attempt = { id: this.#attempts, startedAt: now };
    this.#running = attempt;
    this.#attemptedAt = now;
    const loading = this.#load(attempt);
    const waitUntil = this.#options.waitUntil ?? platformWaitUntil;
    try {
      waitUntil?.(loading);
    } catch {
      // Outside a request (no context to extend): the fetch runs as long as the caller does.
    }
    return loading;
  }

  /** The refetch running at `now`, unless it has run past its timeout: then it was cancelled and will never settle. */
  #runningAt(now: number): Attempt | undefined {
    const running = this.#running;
    return running !== undefined && now - running.startedAt < this.#timeoutMs + ABANDON_GRACE_MS ? running : undefined;
  }

  /** Waits, on this request's own timers, until the refetch `id` (or a later one) settles, bounded by the fetch timeout. */
  async #waitFor(id: number): Promise<void> {
    for (let waited = 0; this.#settled < id && waited < this.#timeoutMs; waited += WAIT_STEP_MS) {
      await new Promise((resolve) => setTimeout(resolve, WAIT_STEP_MS));
    }
  }

  /** Never rejects: a failure is logged and keeps the keys we had. */
  async #load(attempt: Attempt): Promise<void> {
    let keys: VerificationKey[] | undefined;
    try {
      keys = await this.#download();
    } catch (error) {
      log.warn("jwks_fetch_failed", {
        reason: error instanceof Error ? error.message : "unknown",
        keptLastKnownGood: this.#keys !== undefined,
      });
    }
    if (this.#running === attempt) this.#running = undefined;
    // A refetch abandoned as cancelled may still settle after a later one: the later one's answer stands.
    if (attempt.id < this.#settled) return;
    this.#settled = attempt.id;
    this.#lastFailed = keys === undefined;
    if (keys !== undefined) {
      this.#keys = keys;
      this.#fetchedAt = attempt.startedAt;
    }
  }

  async #download(): Promise<VerificationKey[]> {
    // Called as a plain function: workerd's fetch throws when `this` is another object.
    const { fetcher } = this.#options;
    const response = await fetcher(this.#url, {
      headers: { accept: "application/jwk-set+json, application/json" },
      signal: AbortSignal.timeout(this.#timeoutMs),
    });
    if (!response.ok) throw new Error(`status ${response.status}`);
    const text = await response.text();
    if (text.length > MAX_JWKS_BYTES) throw new Error("JWKS too large");
    const body = JSON.parse(text) as { keys?: unknown };
    if (!Array.isArray(body.keys)) throw new Error("no keys array");
    const keys: VerificationKey[] = [];
    for (const jwk of body.keys as JWK[]) {
      if (typeof jwk !== "object" || jwk === null || "d" in jwk) continue;
      const alg = algorithmForKey(jwk);
      if (alg === undefined) continue;
      try {
        keys.push({ key: (await importJWK(jwk, alg)) as CryptoKey, alg, kid: jwk.kid, source: "remote-jwks" });
      } catch {
        // one unusable key does not spoil the set
      }
    }
    if (keys.length === 0) throw new Error("no usable keys");
    return keys;
  }
}

const sets = new Map<string, RemoteKeySet>();

/** One cache per JWKS URL per isolate, shared by every request. */
export function remoteKeySetFor(url: string, options: RemoteKeySetOptions): RemoteKeySet {
  let set = sets.get(url);
  if (set === undefined) {
    set = new RemoteKeySet(url, options);
    sets.set(url, set);
  }
  return set;
}
