/**
 * The revocation lookup on every protected request: three KV keys (jti, sid, sub) per
 * token. The KV here is an in-memory map that answers on the next microtask, so what is
 * measured is the gateway's own work; KV's latency is the end-to-end benchmark's business.
 */
import { bench, describe } from "vitest";
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
    for (let index = 0; index < 1000; index++) kv.values.set(`jti:other-${index}`, '{"at":1,"reason":"x"}');
    const store = new RevocationStore(kv as unknown as ConstructorParameters<typeof RevocationStore>[0], {
      cacheSeconds,
      now: Date.now,
    });
    let next = 0;
    bench(cacheSeconds === 0 ? "cache off (3 KV reads)" : "cache 5 s (256 tokens, warm)", async () => {
      await store.revokedBecause(pool[next++ % pool.length] as AccessTokenClaims);
    });
  }
});
