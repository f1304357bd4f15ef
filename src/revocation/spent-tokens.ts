/**
 * Spent refresh tokens (kind `rt`), kept by the `rotations:<c>` ledgers: one storage row per
 * 10 s of expiry, holding every entry that expires in it. They are recorded on every
 * rotation and live about a minute (the grace window), and nothing publishes or searches
 * them at scale, so a row per bucket is what keeps a rotation at one row written and lets
 * expiry delete a whole bucket at once: a row per entry with an index on its expiry (as
 * the edge entries have, ledger-table.ts) wrote about three rows per rotation instead of
 * one (docs/cost.md). A bucket is small: the entries of one shard's 10 s.
 */
import type { StoredEntry } from "./ledger-table";

const PREFIX = "r:";
const BUCKET_SECONDS = 10;
/** Durable Object storage takes at most 128 keys per put or delete. */
const BATCH = 128;

type Bucket = Record<string, StoredEntry>;

const bucketOf = (exp: number) => `${PREFIX}${Math.ceil(exp / BUCKET_SECONDS) * BUCKET_SECONDS}`;
/** When every entry of a bucket has expired (s). */
const bucketEnd = (bucket: string) => Number(bucket.slice(PREFIX.length));

export class SpentTokens {
  readonly #storage: DurableObjectStorage;
  readonly #buckets = new Map<string, Bucket>();

  constructor(storage: DurableObjectStorage) {
    this.#storage = storage;
  }

  /** Reads the stored buckets (once, as the object starts). */
  async load(): Promise<void> {
    for (const [key, bucket] of await this.#storage.list<Bucket>({ prefix: PREFIX })) this.#buckets.set(key, bucket);
  }

  /** Stores the entries; they are durable when this resolves. An entry recorded twice keeps its longer life. */
  async record(entries: readonly StoredEntry[]): Promise<void> {
    const touched = new Set<string>();
    for (const entry of entries) {
      const previous = this.get(entry.id);
      const stored = previous !== undefined && previous.exp >= entry.exp ? previous : entry;
      if (stored === previous) continue;
      if (previous !== undefined) {
        delete this.#buckets.get(bucketOf(previous.exp))?.[entry.id];
        touched.add(bucketOf(previous.exp));
      }
      const bucket = bucketOf(stored.exp);
      this.#buckets.set(bucket, { ...(this.#buckets.get(bucket) ?? {}), [entry.id]: stored });
      touched.add(bucket);
    }
    const keys = [...touched];
    for (let start = 0; start < keys.length; start += BATCH) {
      await this.#storage.put(
        Object.fromEntries(keys.slice(start, start + BATCH).map((key) => [key, this.#buckets.get(key) ?? {}])),
      );
    }
  }

  get(id: string): StoredEntry | undefined {
    for (const bucket of this.#buckets.values()) {
      if (Object.hasOwn(bucket, id)) return bucket[id];
    }
    return undefined;
  }

  /** Deletes the buckets whose entries have all expired by `seconds`. */
  async prune(seconds: number): Promise<void> {
    const expired = [...this.#buckets.keys()].filter((bucket) => bucketEnd(bucket) <= seconds);
    for (const bucket of expired) this.#buckets.delete(bucket);
    for (let start = 0; start < expired.length; start += BATCH) {
      await this.#storage.delete(expired.slice(start, start + BATCH));
    }
  }

  /** When the next bucket expires (s), or undefined. */
  nextExpiry(): number | undefined {
    let next: number | undefined;
    for (const bucket of this.#buckets.keys()) next = Math.min(next ?? Number.POSITIVE_INFINITY, bucketEnd(bucket));
    return next;
  }

  get size(): number {
    let count = 0;
    for (const bucket of this.#buckets.values()) count += Object.keys(bucket).length;
    return count;
  }
}
