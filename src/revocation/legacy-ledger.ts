/**
 * The upgrade from 0.1's ledger: it kept every entry in the "edge" instance, in rows of
 * `b:<t>` (one JSON object per 10 s of expiry), and published them as the format-1
 * `snapshot`. The "edge" instance, now the manifest's, carries those entries over to the
 * shards they belong to before its first manifest says it has (`legacy: false`); until
 * then the edge keeps reading the format-1 snapshot as well, so nothing revoked before the
 * upgrade is let through after it. Buckets of spent refresh tokens (`rt`, never published)
 * are simply dropped, by whichever instance holds them.
 */
import { keyHash, shardOf } from "./key-hash";
import type { StoredEntry } from "./ledger-table";

const BUCKET_PREFIX = "b:";
/** Durable Object storage deletes at most 128 keys at once. */
const DELETE_BATCH = 128;
/** Entries handed to one shard per call. */
const ADOPT_BATCH = 5_000;

export interface LegacyCarry {
  /** Every legacy entry is in its shard, published (or there never were any). */
  readonly done: boolean;
  /** The version each shard published with the entries it adopted. */
  readonly adopted: Readonly<Record<number, number>>;
}

type Adopt = (shard: number, entries: readonly StoredEntry[]) => Promise<number | undefined>;

async function deleteKeys(storage: DurableObjectStorage, keys: readonly string[]): Promise<void> {
  for (let start = 0; start < keys.length; start += DELETE_BATCH) {
    await storage.delete(keys.slice(start, start + DELETE_BATCH));
  }
}

/** Carry the legacy entries over (once); keeps them and says so when a shard could not take them. */
export async function carryOverLegacy(
  storage: DurableObjectStorage,
  carry: LegacyCarry | undefined,
  adopt: Adopt,
): Promise<LegacyCarry> {
  if (carry?.done) return carry;
  const buckets = await storage.list<Record<string, StoredEntry>>({ prefix: BUCKET_PREFIX });
  const seconds = Date.now() / 1000;
  const byShard = new Map<number, StoredEntry[]>();
  for (const bucket of buckets.values()) {
    for (const entry of Object.values(bucket)) {
      if (entry.kind === "rt" || entry.exp <= seconds) continue;
      const shard = shardOf(keyHash(entry.kind, entry.id));
      const list = byShard.get(shard) ?? [];
      list.push(entry);
      byShard.set(shard, list);
    }
  }
  const adopted: Record<number, number> = { ...(carry?.adopted ?? {}) };
  try {
    for (const [shard, entries] of byShard) {
      for (let start = 0; start < entries.length; start += ADOPT_BATCH) {
        const version = await adopt(shard, entries.slice(start, start + ADOPT_BATCH));
        if (version === undefined) return { done: false, adopted };
        adopted[shard] = Math.max(adopted[shard] ?? 0, version);
      }
    }
  } catch {
    return { done: false, adopted };
  }
  await deleteKeys(storage, [...buckets.keys()]);
  return { done: true, adopted };
}

/**
 * What an instance that is neither a shard nor (yet) the manifest's holds from 0.1: the
 * buckets of spent refresh tokens are dropped (a rotations instance's); true when edge
 * entries are left, i.e. this is 0.1's "edge" and must carry them over.
 */
export async function sortLegacyRows(storage: DurableObjectStorage): Promise<boolean> {
  const buckets = await storage.list<Record<string, StoredEntry>>({ prefix: BUCKET_PREFIX });
  const spent = [...buckets].filter(([, bucket]) => Object.values(bucket).every((entry) => entry.kind === "rt"));
  await deleteKeys(
    storage,
    spent.map(([key]) => key),
  );
  return spent.length < buckets.size;
}
