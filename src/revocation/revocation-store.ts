/**
 * Revocation records in Workers KV (binding REVOKED), checked before anything is forwarded.
 *
 * Keys (see docs/storage.md):
 *   jti:<token id>   an access or refresh token that must no longer be accepted
 *   sid:<session id> every token of that session
 *   sub:<subject>    every token whose session began at or before the stored time
 * Each is written with an expirationTtl covering the longest remaining life of what it
 * revokes (never below KV's 60 s minimum), so entries vanish once they stop mattering.
 *
 * Answers may be cached in the isolate for REVOCATION_CACHE_SECONDS (0 disables): a
 * revocation written elsewhere can take that long, plus KV's own propagation delay, to
 * bite here. Revocations written by this isolate update the cache at once. The cache is
 * bounded to MAX_CACHE_ENTRIES. A KV failure fails closed.
 */
import { GatewayError } from "../errors/gateway-error";
import type { AccessTokenClaims } from "../tokens/access-token-claims";

export const KV_MIN_TTL_SECONDS = 60;
const MAX_CACHE_ENTRIES = 10_000;

export type RevocationKind = "jti" | "sid" | "sub";

interface CacheEntry {
  /** Raw KV value, null when absent. */
  value: string | null;
  expiresAt: number;
}

export interface RevocationStoreOptions {
  readonly cacheSeconds: number;
  readonly now: () => number;
}

export interface RevocationRecord {
  /** Milliseconds since the epoch when it was revoked. */
  readonly at: number;
  readonly reason: string;
}

export class RevocationStore {
  readonly #kv: KVNamespace;
  readonly #options: RevocationStoreOptions;
  readonly #cache = new Map<string, CacheEntry>();

  constructor(kv: KVNamespace, options: RevocationStoreOptions) {
    this.#kv = kv;
    this.#options = options;
  }

  /** Why a token is revoked, or undefined when it is not. Throws when KV cannot answer. */
  async revokedBecause(claims: AccessTokenClaims): Promise<RevocationKind | undefined> {
    const [jti, sid, sub] = await Promise.all([
      claims.jti === undefined ? null : this.#read(`jti:${claims.jti}`),
      claims.sid === undefined ? null : this.#read(`sid:${claims.sid}`),
      this.#read(`sub:${claims.sub}`),
    ]);
    if (jti !== null) return "jti";
    if (sid !== null) return "sid";
    if (sub !== null && subjectRevokedAt(sub, claims.authTime)) return "sub";
    return undefined;
  }

  /** Has `sub` been revoked at or after a session that began at `authTime` (seconds)? */
  async isSubjectRevoked(sub: string, authTime: number): Promise<boolean> {
    const value = await this.#read(`sub:${sub}`);
    return value !== null && subjectRevokedAt(value, authTime);
  }

  revokeToken(jti: string, ttlSeconds: number, reason: string): Promise<void> {
    return this.#write(`jti:${jti}`, ttlSeconds, reason);
  }

  revokeSession(sid: string, ttlSeconds: number, reason: string): Promise<void> {
    return this.#write(`sid:${sid}`, ttlSeconds, reason);
  }

  /** Revoke every session of `sub` that began at or before now. */
  revokeSubject(sub: string, ttlSeconds: number, reason: string): Promise<void> {
    return this.#write(`sub:${sub}`, ttlSeconds, reason);
  }

  async #read(key: string): Promise<string | null> {
    const now = this.#options.now();
    const cached = this.#cache.get(key);
    if (cached !== undefined && cached.expiresAt > now) return cached.value;
    let value: string | null;
    try {
      value = await this.#kv.get(key);
    } catch (error) {
      throw new GatewayError("revocation_store_unavailable", { detail: "KV read failed", cause: error });
    }
    this.#remember(key, value, now);
    return value;
  }

  async #write(key: string, ttlSeconds: number, reason: string): Promise<void> {
    const now = this.#options.now();
    const value = JSON.stringify({ at: now, reason } satisfies RevocationRecord);
    try {
      await this.#kv.put(key, value, { expirationTtl: Math.max(KV_MIN_TTL_SECONDS, Math.ceil(ttlSeconds)) });
    } catch (error) {
      throw new GatewayError("revocation_store_unavailable", { detail: "KV write failed", cause: error });
    }
    this.#remember(key, value, now, true);
  }

  #remember(key: string, value: string | null, now: number, force = false): void {
    const ttl = this.#options.cacheSeconds * 1000;
    if (ttl <= 0 && !force) return;
    this.#cache.delete(key);
    if (this.#cache.size >= MAX_CACHE_ENTRIES) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) this.#cache.delete(oldest);
    }
    // A revocation this isolate wrote is remembered for at least a minute, so it bites
    // here at once even while KV is still propagating it.
    this.#cache.set(key, { value, expiresAt: now + Math.max(ttl, force ? 60_000 : 0) });
  }
}

function subjectRevokedAt(value: string, authTime: number): boolean {
  const revokedBefore = parseRecord(value)?.at ?? Number.POSITIVE_INFINITY;
  return authTime * 1000 <= revokedBefore;
}

function parseRecord(value: string): RevocationRecord | undefined {
  try {
    const record = JSON.parse(value) as RevocationRecord;
    return typeof record.at === "number" ? record : undefined;
  } catch {
    return undefined;
  }
}
