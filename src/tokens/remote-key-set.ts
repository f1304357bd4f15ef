/**
 * A remote JWKS (JWKS_URL), cached across requests in the isolate.
 *
 * - Fresh for JWKS_CACHE_SECONDS; then refetched on next use.
 * - An unknown `kid` triggers a refetch, at most once per JWKS_COOLDOWN_SECONDS, so a
 *   provider's key rotation is picked up and a flood of random kids cannot hammer it.
 * - A failed or garbage fetch keeps the last-known-good keys; it only fails validation
 *   (`keys_unavailable`, told apart from a bad token in the log) when no usable key is known.
 */
import { type CryptoKey, importJWK, type JWK } from "jose";
import { GatewayError } from "../errors/gateway-error";
import { log } from "../log/logger";
import type { VerificationKey } from "./verification-key";

const FETCH_TIMEOUT_MS = 5_000;
const MAX_JWKS_BYTES = 64 * 1024;

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
}

export class RemoteKeySet {
  readonly #url: string;
  readonly #options: RemoteKeySetOptions;
  #keys: VerificationKey[] | undefined;
  #fetchedAt = Number.NEGATIVE_INFINITY;
  #attemptedAt = Number.NEGATIVE_INFINITY;
  #inflight: Promise<void> | undefined;

  constructor(url: string, options: RemoteKeySetOptions) {
    this.#url = url;
    this.#options = options;
  }

  async get(kid: string | undefined, alg: string | undefined, now: number): Promise<VerificationKey | undefined> {
    const stale = now - this.#fetchedAt > this.#options.cacheSeconds * 1000;
    if (this.#keys === undefined || stale) await this.#refresh(now);
    let found = this.#find(kid, alg);
    const coolingDown = now - this.#attemptedAt < this.#options.cooldownSeconds * 1000;
    if (found === undefined && kid !== undefined && !coolingDown) {
      await this.#refresh(now);
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

  /** One fetch at a time, at most one per cooldown; a failure keeps the keys we had. */
  async #refresh(now: number): Promise<void> {
    const coolingDown = now - this.#attemptedAt < this.#options.cooldownSeconds * 1000;
    if (coolingDown && this.#inflight === undefined) return;
    this.#inflight ??= this.#load(now).finally(() => {
      this.#inflight = undefined;
    });
    await this.#inflight;
  }

  async #load(now: number): Promise<void> {
    this.#attemptedAt = now;
    try {
      // Called as a plain function: workerd's fetch throws when `this` is another object.
      const { fetcher } = this.#options;
      const response = await fetcher(this.#url, {
        headers: { accept: "application/jwk-set+json, application/json" },
        signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
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
      this.#keys = keys;
      this.#fetchedAt = now;
    } catch (error) {
      log.warn("jwks_fetch_failed", {
        reason: error instanceof Error ? error.message : "unknown",
        keptLastKnownGood: this.#keys !== undefined,
      });
    }
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
