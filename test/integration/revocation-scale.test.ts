/**
 * Revocation at scale, through the real ledger objects and two gateway isolates sharing
 * them and KV (as two locations do): a burst of 20,000 revocations that all expire within
 * one 10 s window is taken whole (0.1 kept such a window in one storage value and refused
 * every revocation past about 15,000 with a 503), and with 1,000,000 live revocations a
 * logout still bites in the other isolate within the bound of docs/storage.md.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { groupByShard, REVOCATION_SHARDS } from "../../src/revocation/key-hash";
import { ledgerShardName, PUBLISH_INTERVAL_MS } from "../../src/revocation/revocation-snapshot";
import { MAX_REFRESH_WAIT_MS } from "../../src/revocation/revocation-store";
import { ledger, waitForSnapshot } from "../support/revocations";
import { login } from "../support/session-helpers";
import { mintToken } from "../support/tokens";
import { startTwoLocations, type TwoLocations } from "../support/two-locations";

const CACHE_SECONDS = 2;
let locations: TwoLocations;
/**
 * The ledger's shard objects, looked up once. A look-up (idFromName, get) is a synchronous
 * call through miniflare's proxy, on a connection of its own that undici keeps 4 s, while
 * workerd closes one idle for 5 s. Looked up per batch, that connection sat idle for
 * seconds between batches while workerd was busy recording; one reused just before undici
 * let it go reached workerd after workerd had closed it, and the 1,000,000 test failed with
 * "fetch failed: other side closed" (reproduced twice in two runs beside a loop of the unit
 * tests). Every call below is then an RPC on the proxy's busy connections.
 */
let shards: Array<Awaited<ReturnType<typeof ledger>> & { size(): Promise<number> }>;

beforeAll(async () => {
  locations = await startTwoLocations({ REVOCATION_CACHE_SECONDS: String(CACHE_SECONDS) });
  shards = await Promise.all(
    Array.from(
      { length: REVOCATION_SHARDS },
      async (_, shard) => (await ledger(locations.a, ledgerShardName(shard))) as (typeof shards)[number],
    ),
  );
});
afterAll(() => locations?.close());

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

/** Runs `work` over `items` with at most `limit` in flight. */
async function pool<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: limit }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  });
  await Promise.all(lanes);
  return results;
}

async function ledgerRows(): Promise<number> {
  let rows = 0;
  for (const stub of shards) rows += await stub.size();
  return rows;
}

function shardLedger(shard: number): (typeof shards)[number] {
  const stub = shards[shard];
  if (stub === undefined) throw new Error(`no ledger shard ${shard}`);
  return stub;
}

describe("revocation at scale", () => {
  it("takes a burst of 20,000 revocations expiring within one 10 s window, and every one bites", async () => {
    const expiresAt = Math.ceil(Date.now() / 1000) + 300;
    const sids = Array.from({ length: 20_000 }, (_, index) => `burst-${index}-${crypto.randomUUID()}`);
    const started = Date.now();
    // As endpoints send them: one call per request, each naming the sessions it ends (here 1,000, as a revoke-subject of that many sessions did in 0.1).
    const calls = Array.from({ length: sids.length / 1000 }, (_, index) =>
      sids.slice(index * 1000, (index + 1) * 1000),
    );
    const receipts = await pool(calls, 4, async (group) => {
      const ttlSeconds = expiresAt - Date.now() / 1000; // every entry ends in the same second
      const inputs = group.map((sid) => ({ kind: "sid" as const, id: sid, reason: "burst", ttlSeconds }));
      return Promise.all(
        [...groupByShard(inputs)].map(async ([shard, part]) => shardLedger(shard).record(part, shard)),
      );
    }).then((nested) => nested.flat());
    const seconds = (Date.now() - started) / 1000;
    console.log(
      `20,000 revocations in ${seconds.toFixed(1)} s (${Math.round(20_000 / seconds)}/s, calls of 1,000, 4 in flight)`,
    );
    expect(receipts.every((receipt) => receipt.publishing === "ok" || receipt.publishing === "pending")).toBe(true);
    expect(await ledgerRows()).toBeGreaterThanOrEqual(20_000);
    const sample = [sids[0], sids[9_999], sids[19_999], ...sids.filter((_, index) => index % 997 === 0)] as string[];
    await waitForSnapshot(locations.a, (published) => sample.every((sid) => published.has("sid", sid)), 400);
    for (const sid of sample) {
      const token = await mintToken(locations.a.key, { claims: { sid } });
      expect((await locations.b.fetch("/api/x", bearer(token))).status).toBe(401);
    }
  }, 120_000);

  it("with 1,000,000 live revocations, a logout bites in the other isolate within the bound", async () => {
    const live = Array.from({ length: 980_000 }, (_, index) => ({
      kind: "sid" as const,
      id: `live-${index}`,
      reason: "seed",
      ttlSeconds: 600,
    }));
    const batches = [...groupByShard(live)].flatMap(([shard, inputs]) =>
      Array.from({ length: Math.ceil(inputs.length / 5_000) }, (_, index) => ({
        shard,
        inputs: inputs.slice(index * 5_000, (index + 1) * 5_000),
      })),
    );
    await pool(batches, 8, async ({ shard, inputs }) => shardLedger(shard).record(inputs, shard));
    expect(await ledgerRows()).toBeGreaterThanOrEqual(1_000_000);
    await waitForSnapshot(locations.a, (published) => published.has("sid", "live-979999"), 400);

    const session = await login(locations.a);
    // B has taken in the shards this token falls in, a million entries published, and allows it.
    const first = Date.now();
    expect((await locations.b.fetch("/api/x", bearer(session.accessToken))).status).toBe(200);
    const warm = Date.now();
    expect((await locations.b.fetch("/api/x", bearer(session.accessToken))).status).toBe(200);
    console.log(`1,000,000 live: first request in B ${warm - first} ms, warm ${Date.now() - warm} ms`);
    expect(
      (await locations.b.fetch("/api/x", bearer(await mintToken(locations.a.key, { claims: { sid: "live-4242" } }))))
        .status,
    ).toBe(401);

    const logout = await locations.a.fetch("/auth/logout", {
      method: "POST",
      headers: { authorization: `Bearer ${session.accessToken}` },
    });
    expect(logout.status).toBe(204);
    const recordedAt = Date.now();
    const bound = recordedAt + 2 * PUBLISH_INTERVAL_MS + CACHE_SECONDS * 1000 + MAX_REFRESH_WAIT_MS;
    const margin = 1500; // a busy 2-core machine publishing shards of 62,500 entries
    let refusedAt: number | undefined;
    while (refusedAt === undefined && Date.now() < bound + margin) {
      const status = (await locations.b.fetch("/api/x", bearer(session.accessToken))).status;
      if (status === 401) refusedAt = Date.now();
      else await new Promise((resolve) => setTimeout(resolve, 50));
    }
    console.log(`bit in B ${refusedAt === undefined ? "never" : refusedAt - recordedAt} ms after the logout`);
    expect(refusedAt).toBeDefined();
  }, 180_000);
});
