/**
 * `npm run bench:scale`: revocation at internet scale (docs/benchmarks.md, "Revocation at
 * scale"). Two gateway isolates share the ledger and KV, as two locations do; B is the
 * isolate measured.
 *
 *   refresh   with N live revocations (10k, 100k, 1M), each round changes every shard,
 *             waits for the publish and a cache period, then times B's first request (it
 *             reads the manifest and the shards its token falls in) and its warm requests
 *   held      the bytes of every published shard: what an isolate holds having met them all
 *   ledger    revocations/s into one shard and spread over all 16 (one a call, 64 in flight, from inside workerd)
 *
 *   npm run bench:scale [-- --sizes 10000,100000] [-- --rounds 5]
 */
import { parseArgs } from "node:util";
import { groupByShard, REVOCATION_SHARDS } from "../src/revocation/key-hash";
import {
  ledgerShardName,
  MANIFEST_KEY,
  parseManifest,
  type RevocationInput,
  shardKey,
} from "../src/revocation/revocation-snapshot";
import { startGateway } from "../test/support/gateway";
import { ledger, waitForSnapshot } from "../test/support/revocations";
import { mintToken } from "../test/support/tokens";
import { startTwoLocations, type TwoLocations } from "../test/support/two-locations";

const CACHE_SECONDS = 1;
const { values } = parseArgs({
  options: {
    sizes: { type: "string", default: "1000,10000,100000,1000000" },
    rounds: { type: "string", default: "7" },
    /** Another build for the ledger row, e.g. 0.1's: --ledger-bundle dist/upgrade-before/index.js --sizes "" */
    "ledger-bundle": { type: "string" },
    "ledger-total": { type: "string", default: "20000" },
  },
});
const SIZES = (values.sizes as string).split(",").filter(Boolean).map(Number);
const ROUNDS = Number(values.rounds);

async function pool<T>(items: readonly T[], limit: number, work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

function byShard(inputs: readonly RevocationInput[], only?: number): [number, RevocationInput[]][] {
  return only === undefined ? [...groupByShard(inputs)] : [[only, [...inputs]]];
}

/** Record `inputs` in calls of at most `size` entries, `limit` in flight; returns revocations/s. */
async function record(
  at: TwoLocations,
  inputs: readonly RevocationInput[],
  size: number,
  limit: number,
  only?: number,
) {
  const calls = byShard(inputs, only).flatMap(([shard, group]) =>
    Array.from({ length: Math.ceil(group.length / size) }, (_, index) => ({
      shard,
      part: group.slice(index * size, (index + 1) * size),
    })),
  );
  const started = performance.now();
  await pool(calls, limit, async ({ shard, part }) => (await ledger(at.a, ledgerShardName(shard))).record(part, shard));
  return inputs.length / ((performance.now() - started) / 1000);
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

async function timed(at: TwoLocations, token: string): Promise<number> {
  const started = performance.now();
  const response = await at.b.fetch("/api/x", { headers: { authorization: `Bearer ${token}` } });
  await response.arrayBuffer();
  if (response.status !== 200) throw new Error(`B answered ${response.status}`);
  return performance.now() - started;
}

async function refreshRow(size: number) {
  const at = await startTwoLocations({ REVOCATION_CACHE_SECONDS: String(CACHE_SECONDS) });
  try {
    const live = Array.from({ length: size }, (_, index) => ({
      kind: "sid" as const,
      id: `live-${index}`,
      reason: "seed",
      ttlSeconds: 3600,
    }));
    await record(at, live, 5_000, 8);
    await waitForSnapshot(at.a, (published) => published.has("sid", `live-${size - 1}`), 2_000);
    const first: number[] = [];
    const warm: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      // One more revocation in every shard: each shard B holds is stale after the next period.
      const touch = Array.from({ length: REVOCATION_SHARDS * 8 }, (_, index) => ({
        kind: "jti" as const,
        id: `touch-${round}-${index}`,
        reason: "bench",
        ttlSeconds: 3600,
      }));
      await record(at, touch, 1_000, 4);
      await waitForSnapshot(at.a, (published) => touch.every((input) => published.has("jti", input.id)), 2_000);
      await new Promise((resolve) => setTimeout(resolve, CACHE_SECONDS * 1000 + 50));
      const token = await mintToken(at.a.key, { claims: { sid: `round-${round}`, sub: `user-${round}` } });
      first.push(await timed(at, token));
      for (let index = 0; index < 20; index++) warm.push(await timed(at, token));
    }
    const kv = await at.a.kv();
    const manifest = parseManifest((await kv.get(MANIFEST_KEY, "text")) ?? "");
    let held = 0;
    for (let shard = 0; shard < manifest.shards.length; shard++) {
      held += (await kv.get(shardKey(shard), "arrayBuffer"))?.byteLength ?? 0;
    }
    return { size, first: median(first.slice(1)), warm: median(warm), held };
  } finally {
    await at.close();
  }
}

/**
 * The ledger's own rate, driven from inside workerd (a Node client's calls through
 * miniflare's proxy would measure the proxy): one revocation per call, as a logout makes,
 * 64 calls in flight, into one shard instance or spread over all of them.
 */
const DRIVER = `export default {
  async fetch(request, env) {
    const { shards, total } = await request.json();
    let next = 0;
    const started = Date.now();
    await Promise.all(Array.from({ length: 64 }, async () => {
      while (next < total) {
        const index = next++;
        const shard = index % shards;
        const id = "drive-" + shards + "-" + index;
        await env.REVOCATIONS.get(env.REVOCATIONS.idFromName("edge/" + shard))
          .record([{ kind: "sid", id, reason: "bench", ttlSeconds: 3600 }], shard);
      }
    }));
    return Response.json({ perSecond: total / ((Date.now() - started) / 1000) });
  },
};`;

async function ledgerRow() {
  const scriptPath = values["ledger-bundle"];
  const gateway = await startGateway({
    ...(scriptPath !== undefined ? { workerOptions: { scriptPath } } : {}),
    extraWorkers: [
      {
        name: "driver",
        compatibilityDate: "2025-09-01",
        modules: true,
        script: DRIVER,
        durableObjects: { REVOCATIONS: { className: "RevocationLedger", scriptName: "portcullis", useSQLite: true } },
      },
    ],
  });
  try {
    const driver = await gateway.mf.getWorker("driver");
    const rate = async (shards: number) => {
      const response = await driver.fetch("http://driver/", {
        method: "POST",
        body: JSON.stringify({ shards, total: Number(values["ledger-total"]) }),
      });
      return ((await response.json()) as { perSecond: number }).perSecond;
    };
    return { one: await rate(1), all: await rate(REVOCATION_SHARDS) };
  } finally {
    await gateway.close();
  }
}

console.log(`revocation at scale: ${ROUNDS} rounds, REVOCATION_CACHE_SECONDS=${CACHE_SECONDS}, median ms`);
console.log("live revocations | first request after a period | warm request | added | shards held (bytes)");
for (const size of SIZES) {
  const row = await refreshRow(size);
  console.log(
    `${row.size.toLocaleString("en")} | ${row.first.toFixed(2)} | ${row.warm.toFixed(2)} | ${(row.first - row.warm).toFixed(2)} | ${row.held.toLocaleString("en")}`,
  );
}
const ledgerRates = await ledgerRow();
console.log(
  `ledger, one revocation a call, 64 in flight: one shard ${Math.round(ledgerRates.one)}/s, ${REVOCATION_SHARDS} shards ${Math.round(ledgerRates.all)}/s`,
);
process.exit(0);
