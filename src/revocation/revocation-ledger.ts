/**
 * The revocation ledger: Durable Objects that are the strongly consistent writers of
 * revocations and publish what the edge checks to KV (docs/storage.md). One class, three
 * roles, by instance name:
 *
 *   "edge/<k>"        shard k of the `jti`/`sid`/`sub` entries (by key hash, key-hash.ts);
 *                     publishes `revocations/<k>` at most once a second, when it changed
 *   "edge"            the manifest: each shard's version, published at most once a second;
 *                     also carries over the entries an earlier version kept in it
 *   "rotations:<c>"   spent refresh tokens (kind `rt`), never published, in a row per 10 s
 *                     of expiry (spent-tokens.ts)
 *
 * A revocation is one row written in one shard (ledger-table.ts), stored before the call
 * answers and before anything is published; shards take revocations side by side, so the
 * rate the ledger takes grows with their number. A publish that fails (KV down, its daily
 * write limit, a shard past KV's value limit) keeps the entries, says what ran out, and
 * retries after PUBLISH_RETRY_MS.
 */
import { DurableObject } from "cloudflare:workers";
import { log } from "../log/logger";
import { REVOCATION_SHARDS } from "./key-hash";
import { type ExhaustedQuota, exhaustedQuota } from "./kv-quota";
import { LedgerTable, type StoredEntry } from "./ledger-table";
import { carryOverLegacy, type LegacyCarry, sortLegacyRows } from "./legacy-ledger";
import {
  COORDINATOR,
  freshEntry,
  ledgerShardName,
  MANIFEST_FORMAT,
  MANIFEST_KEY,
  type Manifest,
  PUBLISH_INTERVAL_MS,
  type RevocationInput,
  shardKey,
} from "./revocation-snapshot";
import { encodeShard } from "./shard-format";
import { SpentTokens } from "./spent-tokens";

const PUBLISH_RETRY_MS = 60_000;
/** Expired rows are deleted at most this often. */
const PRUNE_INTERVAL_MS = 10_000;

export type { RevocationInput } from "./revocation-snapshot";

/** How publishing goes, as the last attempt found it. `too_large`: a shard past KV's value limit. */
export type PublishState = "ok" | "pending" | ExhaustedQuota | "kv_unavailable" | "too_large";

export interface RecordReceipt {
  readonly publishing: PublishState;
}

interface Meta {
  /** This instance's shard (undefined: the manifest, or a rotations ledger). */
  shard?: number;
  version: number;
  lastPublishAt: number;
  dirty: boolean;
  state: PublishState;
  /** The manifest's view of each shard (the "edge" instance only). */
  shards?: number[];
  legacy?: LegacyCarry;
  lastPruneAt?: number;
}

interface LedgerEnv {
  readonly REVOKED: KVNamespace;
  readonly REVOCATIONS: DurableObjectNamespace<RevocationLedger>;
}

export class RevocationLedger extends DurableObject<LedgerEnv> {
  #table!: LedgerTable;
  #spent!: SpentTokens;
  #meta: Meta = { version: 0, lastPublishAt: 0, dirty: false, state: "ok" };
  /** A publish is in flight (its KV put not yet answered). */
  #publishing = false;
  /** When the alarm is set for (null: none); undefined until read from storage. */
  #alarmAt: number | null | undefined;

  constructor(ctx: DurableObjectState, env: LedgerEnv) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      this.#table = new LedgerTable(ctx.storage);
      this.#spent = new SpentTokens(ctx.storage);
      await this.#spent.load();
      this.#meta = (await ctx.storage.get<Meta>("meta")) ?? this.#meta;
    });
  }

  /**
   * Record revocations durably: they are in this shard's table when this answers. `shard`
   * names this instance's shard for edge kinds (the store routes each key to its shard).
   */
  async record(inputs: readonly RevocationInput[], shard?: number): Promise<RecordReceipt> {
    const now = Date.now();
    const entries = inputs.map(({ kind, id, reason, ttlSeconds, keep }) => ({
      kind,
      id,
      reason,
      ...freshEntry(now, ttlSeconds, keep),
    }));
    const spent = entries.filter((entry) => entry.kind === "rt");
    const edge = entries.filter((entry) => entry.kind !== "rt");
    if (spent.length > 0) await this.#spent.record(spent);
    if (edge.length > 0) {
      this.#table.upsert(edge);
      await this.#changed(now, shard);
    }
    await this.#schedule(now);
    return { publishing: this.#meta.state };
  }

  /** Entries carried over from an earlier version's ledger, as they were; published at once. */
  async adopt(entries: readonly StoredEntry[], shard: number): Promise<number | undefined> {
    this.#table.upsert(entries);
    const now = Date.now();
    this.#meta.shard = shard;
    this.#meta.dirty = true;
    await this.#publishAfterInFlight(now);
    await this.#schedule(now);
    return this.#meta.state === "ok" ? this.#meta.version : undefined;
  }

  /** A shard published `version` ("edge" only): the manifest names it within PUBLISH_INTERVAL_MS. */
  async announce(shard: number, version: number): Promise<void> {
    const shards = this.#meta.shards ?? new Array<number>(REVOCATION_SHARDS).fill(0);
    if ((shards[shard] ?? 0) >= version) return;
    shards[shard] = version;
    this.#meta.shards = shards;
    await this.#changed(Date.now(), undefined);
    await this.#schedule(Date.now());
  }

  /** One recorded revocation, or undefined (audits, tests). */
  async entry(kind: StoredEntry["kind"], id: string): Promise<StoredEntry | undefined> {
    const entry = kind === "rt" ? this.#spent.get(id) : this.#table.get(kind, id);
    return entry !== undefined && entry.exp > Date.now() / 1000 ? entry : undefined;
  }

  /** How many rows the table holds (expired ones until the next prune), for the benchmark. */
  async size(): Promise<number> {
    return this.#table.count() + this.#spent.size;
  }

  override async alarm(): Promise<void> {
    const now = Date.now();
    this.#alarmAt = null;
    if (now >= (this.#meta.lastPruneAt ?? 0) + PRUNE_INTERVAL_MS) {
      this.#table.prune(Math.floor(now / 1000));
      await this.#spent.prune(Math.floor(now / 1000));
      this.#meta.lastPruneAt = now;
    }
    if (this.#meta.shard === undefined && this.#meta.shards === undefined) {
      // A rotations ledger, or 0.1's "edge" woken by the alarm it set: that one carries its
      // entries over (and publishes the manifest) now, not at the first announce.
      if (await sortLegacyRows(this.ctx.storage)) {
        this.#meta.shards = new Array<number>(REVOCATION_SHARDS).fill(0);
        await this.#publishAfterInFlight(now);
      }
    } else if (this.#meta.dirty && now >= this.#meta.lastPublishAt + PUBLISH_INTERVAL_MS) await this.#publish(now);
    await this.ctx.storage.put("meta", this.#meta);
    await this.#schedule(now);
  }

  /** Something to publish: now when the interval allows, else by the alarm, with whatever else arrives. */
  async #changed(now: number, shard: number | undefined): Promise<void> {
    if (shard !== undefined) this.#meta.shard = shard;
    this.#meta.dirty = true;
    if (now >= this.#meta.lastPublishAt + PUBLISH_INTERVAL_MS) await this.#publish(now);
    else if (this.#meta.state === "ok") this.#meta.state = "pending";
    await this.ctx.storage.put("meta", this.#meta);
  }

  /**
   * One publish at a time: a KV put that takes longer than the interval must not be
   * overtaken by the next one and then land after it, leaving an older value in KV than
   * one readers have seen. A change meanwhile stays dirty for the alarm.
   */
  async #publish(now: number): Promise<void> {
    if (this.#publishing) {
      this.#meta.dirty = true;
      return;
    }
    this.#publishing = true;
    try {
      await (this.#meta.shard === undefined ? this.#publishManifest(now) : this.#publishShard(now));
    } finally {
      this.#publishing = false;
    }
  }

  /** Publish now, after the publish in flight if there is one (the carry-over must know it published). */
  async #publishAfterInFlight(now: number): Promise<void> {
    while (this.#publishing) await new Promise((resolve) => setTimeout(resolve, 10));
    await this.#publish(now);
  }

  /** Versions follow the clock too, so a ledger that lost its storage still publishes above any seen. */
  #nextVersion(now: number): number {
    return Math.max(this.#meta.version + 1, now);
  }

  async #publishShard(now: number): Promise<void> {
    const shard = this.#meta.shard as number;
    const version = this.#nextVersion(now);
    this.#meta.lastPublishAt = now;
    this.#meta.dirty = false;
    const { buffer, overflow } = encodeShard(
      { shard, version, publishedAt: now },
      this.#table.liveRows(Math.floor(now / 1000)),
    );
    try {
      await this.env.REVOKED.put(shardKey(shard), buffer);
      this.#meta.version = version;
      this.#meta.state = overflow ? "too_large" : "ok";
      if (overflow) {
        log.error("revocation_shard_too_large", {
          shard,
          entries: this.#table.count(),
          detail: "a revocation shard is past KV's value limit: tokens in it are refused (docs/operations.md)",
        });
      }
    } catch (error) {
      this.#failed(now, error);
      return;
    }
    try {
      await this.env.REVOCATIONS.get(this.env.REVOCATIONS.idFromName(COORDINATOR)).announce(shard, version);
    } catch (error) {
      // Published, but the manifest does not name it yet: announce again with the next publish.
      this.#failed(now, error);
    }
  }

  async #publishManifest(now: number): Promise<void> {
    const version = this.#nextVersion(now);
    this.#meta.lastPublishAt = now;
    this.#meta.dirty = false;
    this.#meta.legacy = await carryOverLegacy(this.ctx.storage, this.#meta.legacy, (shard, entries) =>
      this.env.REVOCATIONS.get(this.env.REVOCATIONS.idFromName(ledgerShardName(shard))).adopt(entries, shard),
    );
    const shards = this.#meta.shards ?? new Array<number>(REVOCATION_SHARDS).fill(0);
    for (const [shard, adopted] of Object.entries(this.#meta.legacy.adopted)) {
      shards[Number(shard)] = Math.max(shards[Number(shard)] ?? 0, adopted);
    }
    this.#meta.shards = shards;
    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      version,
      publishedAt: now,
      shards,
      legacy: !this.#meta.legacy.done,
    };
    try {
      await this.env.REVOKED.put(MANIFEST_KEY, JSON.stringify(manifest));
      this.#meta.version = version;
      this.#meta.state = "ok";
      if (!this.#meta.legacy.done) this.#meta.dirty = true;
    } catch (error) {
      this.#failed(now, error);
    }
  }

  #failed(now: number, error: unknown): void {
    const exhausted = exhaustedQuota(error, "write");
    this.#meta.state = exhausted ?? "kv_unavailable";
    this.#meta.dirty = true;
    // Not a second earlier than the retry: a quota does not come back within a minute.
    this.#meta.lastPublishAt = now + PUBLISH_RETRY_MS - PUBLISH_INTERVAL_MS;
    log.error("revocation_publish_failed", {
      shard: this.#meta.shard,
      exhausted,
      detail: exhausted ? "KV daily write limit exhausted" : (error as Error)?.message,
      retryInSeconds: PUBLISH_RETRY_MS / 1000,
    });
  }

  /** One alarm: the next publish if one is due, else the next prune. */
  async #schedule(now: number): Promise<void> {
    let next = Number.POSITIVE_INFINITY;
    if (this.#meta.dirty) next = Math.max(now, this.#meta.lastPublishAt + PUBLISH_INTERVAL_MS);
    const expiry = Math.min(
      this.#table.nextExpiry() ?? Number.POSITIVE_INFINITY,
      this.#spent.nextExpiry() ?? Number.POSITIVE_INFINITY,
    );
    if (Number.isFinite(expiry)) {
      next = Math.min(next, Math.max(expiry * 1000, (this.#meta.lastPruneAt ?? 0) + PRUNE_INTERVAL_MS));
    }
    if (!Number.isFinite(next)) return;
    if (this.#alarmAt === undefined) this.#alarmAt = await this.ctx.storage.getAlarm();
    if (this.#alarmAt === null || this.#alarmAt > next) {
      await this.ctx.storage.setAlarm(next);
      this.#alarmAt = next;
    }
  }
}
