/**
 * The revocation ledger: a Durable Object that is the strongly consistent writer of
 * revocations, and publishes the ones the edge checks as one snapshot to KV.
 *
 * Why: a KV key per revoked token made every request read up to three keys, and every
 * rotation write one. Here a revocation is one Durable Object call and one storage row;
 * KV is written at most once a second (PUBLISH_INTERVAL_MS), and only when the set the
 * edge checks changed, so KV writes grow with revocations, never with traffic.
 *
 * Instances (by name, see docs/storage.md):
 *   "edge"             jti/sid/sub revocations; publishes the snapshot
 *   "rotations:<c>"    spent refresh tokens (kind "rt"), sharded by the session id's first
 *                      character; the edge never checks these, so they are never published
 *
 * Every entry dies with the longest-lived thing it can affect (its `exp`). Entries are
 * stored in one row per BUCKET_SECONDS of expiry, so a record is one row written and
 * pruning deletes a whole bucket at once (rows written are what SQLite storage bills). A publish that fails (KV down, or the day's write quota used up) keeps
 * the entries, logs what ran out and retries after PUBLISH_RETRY_MS.
 */
import { DurableObject } from "cloudflare:workers";
import { log } from "../log/logger";
import { type ExhaustedQuota, exhaustedQuota } from "./kv-quota";
import {
  freshEntry,
  mergeEntries,
  PUBLISH_INTERVAL_MS,
  type RevocationKind,
  SNAPSHOT_FORMAT,
  SNAPSHOT_KEY,
  type Snapshot,
  type SnapshotEntry,
} from "./revocation-snapshot";

const PUBLISH_RETRY_MS = 60_000;
/** Entries that expire within the same BUCKET_SECONDS share a storage row (and are pruned together). */
const BUCKET_SECONDS = 10;
const BUCKET_PREFIX = "b:";
const META_KEY = "meta";
/** Durable Object storage takes at most 128 keys per put/delete. */
const BATCH = 128;

/** A revocation to record. `rt` is a spent refresh token (recorded, never published). */
export interface RevocationInput {
  readonly kind: RevocationKind | "rt";
  readonly id: string;
  readonly reason: string;
  /** How long it must be remembered, seconds from now. */
  readonly ttlSeconds: number;
  /** For `sub`: the session it spares (revoke-others keeps the caller's own). */
  readonly keep?: string;
}

interface StoredEntry {
  readonly kind: RevocationInput["kind"];
  readonly id: string;
  readonly reason: string;
  /** ms since the epoch; for `sub`, sessions that began at or before it are revoked. */
  readonly at: number;
  /** seconds since the epoch. */
  readonly exp: number;
  readonly keep?: string;
  readonly keepAt?: number;
}

/** How publishing to KV is going, as the last attempt found it. */
export type PublishState = "ok" | "pending" | ExhaustedQuota | "kv_unavailable";

export interface RecordReceipt {
  readonly publishing: PublishState;
}

interface Meta {
  version: number;
  lastPublishAt: number;
  dirty: boolean;
  state: PublishState;
}

interface LedgerEnv {
  readonly REVOKED: KVNamespace;
}

type Bucket = Record<string, StoredEntry>;

function bucketOf(exp: number): string {
  return `${BUCKET_PREFIX}${Math.ceil(exp / BUCKET_SECONDS) * BUCKET_SECONDS}`;
}

/** When a bucket's entries have all expired (ms). */
function bucketEnd(bucket: string): number {
  return Number(bucket.slice(BUCKET_PREFIX.length)) * 1000;
}

export class RevocationLedger extends DurableObject<LedgerEnv> {
  /** Entry key `<kind>:<id>` → entry; every entry also sits in the bucket of its `exp`. */
  readonly #entries = new Map<string, StoredEntry>();
  readonly #buckets = new Map<string, Bucket>();
  #meta: Meta = { version: 0, lastPublishAt: 0, dirty: false, state: "ok" };
  /** When the alarm is set for (null: none); undefined until read from storage. */
  #alarmAt: number | null | undefined;

  constructor(ctx: DurableObjectState, env: LedgerEnv) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      const stored = await ctx.storage.list<Bucket>({ prefix: BUCKET_PREFIX });
      for (const [bucket, entries] of stored) {
        this.#buckets.set(bucket, entries);
        for (const [key, entry] of Object.entries(entries)) this.#entries.set(key, entry);
      }
      this.#meta = (await ctx.storage.get<Meta>(META_KEY)) ?? this.#meta;
    });
  }

  /** Record revocations durably; they are in the ledger when this returns. */
  async record(inputs: readonly RevocationInput[]): Promise<RecordReceipt> {
    const now = Date.now();
    const touched = new Set<string>();
    for (const input of inputs) {
      const key = `${input.kind}:${input.id}`;
      const previous = this.#entries.get(key);
      const merged = mergeEntries(previous, freshEntry(now, input.ttlSeconds, input.keep));
      const entry: StoredEntry = { kind: input.kind, id: input.id, reason: input.reason, ...merged };
      if (previous !== undefined && bucketOf(previous.exp) !== bucketOf(entry.exp)) {
        delete this.#buckets.get(bucketOf(previous.exp))?.[key];
        touched.add(bucketOf(previous.exp));
      }
      this.#entries.set(key, entry);
      const bucket = bucketOf(entry.exp);
      if (!this.#buckets.has(bucket)) this.#buckets.set(bucket, {});
      (this.#buckets.get(bucket) as Bucket)[key] = entry;
      touched.add(bucket);
      if (input.kind !== "rt") this.#meta.dirty = true;
    }
    const rows = [...touched];
    for (let start = 0; start < rows.length; start += BATCH) {
      await this.ctx.storage.put(
        Object.fromEntries(rows.slice(start, start + BATCH).map((bucket) => [bucket, this.#buckets.get(bucket)])),
      );
    }
    if (this.#meta.dirty) {
      // Publish now when the interval allows, so the answer knows how it went; otherwise
      // the alarm publishes this together with whatever else arrives within the interval.
      if (now >= this.#meta.lastPublishAt + PUBLISH_INTERVAL_MS) await this.#publish(now);
      else if (this.#meta.state === "ok") {
        this.#meta.state = "pending";
        await this.ctx.storage.put(META_KEY, this.#meta);
      }
    }
    await this.#schedule(now);
    return { publishing: this.#meta.state };
  }

  /** One recorded revocation, or undefined (audits, tests). */
  async entry(kind: RevocationInput["kind"], id: string): Promise<StoredEntry | undefined> {
    const entry = this.#entries.get(`${kind}:${id}`);
    return entry !== undefined && entry.exp > Date.now() / 1000 ? entry : undefined;
  }

  /** The snapshot as it would be published now (tests and operators). */
  async snapshot(): Promise<Snapshot> {
    return this.#build(Date.now(), this.#meta.version);
  }

  override async alarm(): Promise<void> {
    const now = Date.now();
    this.#alarmAt = null;
    await this.#prune(now);
    if (this.#meta.dirty && now >= this.#meta.lastPublishAt + PUBLISH_INTERVAL_MS) await this.#publish(now);
    await this.#schedule(now);
  }

  async #publish(now: number): Promise<void> {
    // Versions also follow the clock, so a ledger that lost its storage still publishes
    // versions above any an isolate has seen (isolates never go back to an older one).
    const snapshot = this.#build(now, Math.max(this.#meta.version + 1, now));
    try {
      await this.env.REVOKED.put(SNAPSHOT_KEY, JSON.stringify(snapshot));
      this.#meta = { version: snapshot.version, lastPublishAt: now, dirty: false, state: "ok" };
    } catch (error) {
      const exhausted = exhaustedQuota(error, "write");
      this.#meta.state = exhausted ?? "kv_unavailable";
      // Not a second earlier than the retry: a quota does not come back within a minute.
      this.#meta.lastPublishAt = now + PUBLISH_RETRY_MS - PUBLISH_INTERVAL_MS;
      log.error("revocation_publish_failed", {
        exhausted,
        detail: exhausted ? "KV daily write limit exhausted" : (error as Error)?.message,
        retryInSeconds: PUBLISH_RETRY_MS / 1000,
      });
    }
    await this.ctx.storage.put(META_KEY, this.#meta);
  }

  #build(now: number, version: number): Snapshot {
    const maps: Record<RevocationKind, Record<string, SnapshotEntry>> = { jti: {}, sid: {}, sub: {} };
    const seconds = now / 1000;
    for (const entry of this.#entries.values()) {
      if (entry.kind === "rt" || entry.exp <= seconds) continue;
      const { at, exp, keep, keepAt } = entry;
      maps[entry.kind][entry.id] = keep === undefined ? { at, exp } : { at, exp, keep, keepAt };
    }
    return { format: SNAPSHOT_FORMAT, version, publishedAt: now, ...maps };
  }

  async #prune(now: number): Promise<void> {
    const expired = [...this.#buckets.keys()].filter((bucket) => bucketEnd(bucket) <= now);
    for (const bucket of expired) {
      for (const key of Object.keys(this.#buckets.get(bucket) ?? {})) this.#entries.delete(key);
      this.#buckets.delete(bucket);
    }
    for (let start = 0; start < expired.length; start += BATCH) {
      await this.ctx.storage.delete(expired.slice(start, start + BATCH));
    }
  }

  /** One alarm: the next publish if one is due, else the next expiry to prune. */
  async #schedule(now: number): Promise<void> {
    let next = Number.POSITIVE_INFINITY;
    if (this.#meta.dirty) next = Math.max(now, this.#meta.lastPublishAt + PUBLISH_INTERVAL_MS);
    for (const bucket of this.#buckets.keys()) next = Math.min(next, bucketEnd(bucket));
    if (!Number.isFinite(next)) return;
    if (this.#alarmAt === undefined) this.#alarmAt = await this.ctx.storage.getAlarm();
    if (this.#alarmAt === null || this.#alarmAt > next) {
      await this.ctx.storage.setAlarm(next);
      this.#alarmAt = next;
    }
  }
}
