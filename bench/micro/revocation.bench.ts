/**
 * The revocation lookup on every protected request: one published snapshot, read from KV
 * at most once per REVOCATION_CACHE_SECONDS. The KV here is an in-memory map that answers
 * on the next microtask, so what is measured is the gateway's own work; KV's latency is
 * the end-to-end benchmark's business.
 */
import { bench, describe } from "vitest";
import { SNAPSHOT_FORMAT, SNAPSHOT_KEY, type SnapshotEntry } from "../../src/revocation/revocation-snapshot";
import { RevocationStore } from "../../src/revocation/revocation-store";
import type { AccessTokenClaims } from "../../src/tokens/access-token-claims";

class MemoryKv {
  readonly values = new Map<string, string>();
  reads = 0;
  async get(key: string): Promise<string | null> {
    this.reads++;
    return this.values.get(key) ?? null;
  }
  async put(key: string, value: string): Promise<void> {
    this.values.set(key, value);
  }
}

const claims = (index: number): AccessTokenClaims =>
  Object.freeze({
    sub: `user-${index % 256}`,
    iss: "https://gateway.test",
    exp: 2_000_000_000,
    iat: 1_900_000_000,
    jti: `jti-${index}`,
    sid: `sid-${index % 256}`,
    authTime: 1_900_000_000,
    scopes: new Set(["read"]),
    roles: new Set<string>(),
  });

const pool = Array.from({ length: 256 }, (_, index) => claims(index));

describe("RevocationStore.revokedBecause", () => {
  for (const cacheSeconds of [0, 5]) {
    const kv = new MemoryKv();
    // A snapshot of 1,000 revoked tokens: what a busy deployment's live revocations look like.
    const jti: Record<string, SnapshotEntry> = {};
    for (let index = 0; index < 1000; index++) jti[`other-${index}`] = { at: 1, exp: 2_000_000_000 };
    const snapshot = { format: SNAPSHOT_FORMAT, version: 1, publishedAt: 1, jti, sid: {}, sub: {} };
    kv.values.set(SNAPSHOT_KEY, JSON.stringify(snapshot));
    type Parameters = ConstructorParameters<typeof RevocationStore>;
    const store = new RevocationStore(kv as unknown as Parameters[0], undefined as unknown as Parameters[1], {
      cacheSeconds,
      now: Date.now,
    });
    let next = 0;
    bench(
      cacheSeconds === 0 ? "cache off (1 KV read + parse of a 1,000-entry snapshot)" : "cache 5 s (256 tokens, warm)",
      async () => {
        await store.revokedBecause(pool[next++ % pool.length] as AccessTokenClaims);
      },
    );
  }
});
