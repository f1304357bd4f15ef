/**
 * What one isolate knows of the published revocations (revocation-snapshot.ts): the
 * manifest, read at most once per REVOCATION_CACHE_SECONDS (0: on every check); a shard,
 * read when a token falls in it and the manifest names a newer version than the one held;
 * and, while the manifest says the upgrade is not carried over (or there is none yet), the
 * format-1 snapshot. A check against what is held is synchronous and parses nothing.
 *
 * Requests never share a pending read (a Worker must not continue one request's I/O in
 * another's). While one request refreshes something stale, the others keep using what is
 * held for at most MAX_REFRESH_WAIT_MS more instead of all reading KV at once. Nothing
 * goes back to an older version than one seen. KV failures and an unreadable value throw
 * (the caller fails closed).
 */
import { GatewayError } from "../errors/gateway-error";
import { type KeyHash, keyHash, REVOCATION_SHARDS, shardOf } from "./key-hash";
import { exhaustedQuota } from "./kv-quota";
import {
  LEGACY_SNAPSHOT_KEY,
  type LegacySnapshot,
  MANIFEST_KEY,
  type Manifest,
  parseLegacySnapshot,
  parseManifest,
  type RevocationKind,
  type RevocationSubject,
  revokedInLegacy,
  shardKey,
} from "./revocation-snapshot";
import { ShardView } from "./shard-format";

/** How much longer than the cache period a value may serve while another request reads KV. */
export const MAX_REFRESH_WAIT_MS = 1_000;

/** When a value was read, and whether a request is reading it again. */
interface Freshness {
  readAt: number;
  readingSince: number | undefined;
  /** For a shard: the version the manifest named when it was last read. */
  triedFor: number;
}

const unread = (): Freshness => ({ readAt: Number.NEGATIVE_INFINITY, readingSince: undefined, triedFor: 0 });

/** The keys of a token's claims, hashed once per check. */
interface Keys {
  readonly jti: KeyHash | undefined;
  readonly sid: KeyHash | undefined;
  readonly sub: KeyHash;
}

export class PublishedRevocations {
  readonly #kv: KVNamespace;
  readonly #ttl: number;
  #manifest: Manifest | undefined;
  readonly #manifestRead = unread();
  #legacy: LegacySnapshot | undefined;
  readonly #shards: (ShardView | undefined)[] = new Array(REVOCATION_SHARDS).fill(undefined);
  readonly #shardReads: Freshness[] = Array.from({ length: REVOCATION_SHARDS }, unread);

  constructor(kv: KVNamespace, cacheSeconds: number) {
    this.#kv = kv;
    this.#ttl = cacheSeconds * 1000;
  }

  /** Why `claims` is revoked: at once when what it needs is held and fresh, else after reading it. */
  revokedBecause(
    claims: RevocationSubject,
    now: number,
  ): RevocationKind | undefined | Promise<RevocationKind | undefined> {
    const keys: Keys = {
      jti: claims.jti === undefined ? undefined : keyHash("jti", claims.jti),
      sid: claims.sid === undefined ? undefined : keyHash("sid", claims.sid),
      sub: keyHash("sub", claims.sub),
    };
    const pending = this.#refresh(keys, now);
    if (pending === undefined) return this.#verdict(claims, keys, now);
    return pending.then(() => this.#verdict(claims, keys, now));
  }

  /** Bytes of shards held (the isolate's memory for revocations), for the benchmark. */
  get heldBytes(): number {
    return this.#shards.reduce((sum, view) => sum + (view?.bytes ?? 0), 0);
  }

  #verdict(claims: RevocationSubject, keys: Keys, now: number): RevocationKind | undefined {
    const seconds = now / 1000;
    if (this.#legacy !== undefined) {
      const legacy = revokedInLegacy(this.#legacy, claims, now);
      if (legacy !== undefined) return legacy;
    }
    if (keys.jti !== undefined && this.#shardOf(keys.jti)?.revokesId(keys.jti, seconds)) return "jti";
    if (keys.sid !== undefined && this.#shardOf(keys.sid)?.revokesId(keys.sid, seconds)) return "sid";
    if (this.#shardOf(keys.sub)?.coversSubject(keys.sub, claims, seconds)) return "sub";
    return undefined;
  }

  #shardOf(hash: KeyHash): ShardView | undefined {
    const view = this.#shards[shardOf(hash)];
    if (view?.overflow) {
      throw new GatewayError("revocation_store_unavailable", {
        detail: `revocation shard ${view.shard} is past KV's value limit (revocation_shard_too_large)`,
      });
    }
    return view;
  }

  /** Is `freshness` due for a read by this request? Marks it as being read when it is. */
  #due(freshness: Freshness, now: number, stale: boolean): boolean {
    if (!stale) return false;
    // Another request is reading it: what is held serves for at most MAX_REFRESH_WAIT_MS more.
    if (freshness.readingSince !== undefined && now - freshness.readingSince < MAX_REFRESH_WAIT_MS) return false;
    freshness.readingSince = now;
    return true;
  }

  /** The reads this check needs, as one promise; undefined when none is needed. */
  #refresh(keys: Keys, now: number): Promise<void> | undefined {
    const manifestStale = this.#ttl <= 0 || now - this.#manifestRead.readAt >= this.#ttl;
    if (this.#due(this.#manifestRead, now, manifestStale)) {
      return this.#readManifest(now).then(() => this.#readShards(keys, now) ?? undefined);
    }
    return this.#readShards(keys, now);
  }

  async #readManifest(now: number): Promise<void> {
    try {
      // While the upgrade may not be carried over, the format-1 snapshot is read alongside.
      const withLegacy = this.#manifest === undefined || this.#manifest.legacy;
      const [manifestText, legacyText] = await Promise.all([
        this.#get(MANIFEST_KEY, "text"),
        withLegacy ? this.#get(LEGACY_SNAPSHOT_KEY, "text") : undefined,
      ]);
      const manifest = manifestText === null ? undefined : parse(parseManifest, manifestText);
      if (manifest !== undefined && manifest.version >= (this.#manifest?.version ?? 0)) this.#manifest = manifest;
      if (this.#manifest !== undefined && !this.#manifest.legacy) this.#legacy = undefined;
      else if (typeof legacyText === "string") {
        const legacy = parse(parseLegacySnapshot, legacyText);
        if (legacy.version >= (this.#legacy?.version ?? 0)) this.#legacy = legacy;
      }
      this.#manifestRead.readAt = now;
    } finally {
      if (this.#manifestRead.readingSince === now) this.#manifestRead.readingSince = undefined;
    }
  }

  /** Reads the shards of `keys` whose published version is newer than the one held. */
  #readShards(keys: Keys, now: number): Promise<void> | undefined {
    const wanted = new Set([keys.jti, keys.sid, keys.sub].flatMap((hash) => (hash ? [shardOf(hash)] : [])));
    const reads: Promise<void>[] = [];
    for (const shard of wanted) {
      const published = this.#manifest?.shards[shard] ?? 0;
      const freshness = this.#shardReads[shard] as Freshness;
      // A value older than the manifest names (KV is eventually consistent) is read again
      // a period later, not on every request; a newer version named is read at once.
      const held = this.#shards[shard]?.version ?? 0;
      const stale = published > held && (freshness.triedFor < published || now - freshness.readAt >= this.#ttl);
      if (this.#due(freshness, now, stale)) {
        freshness.triedFor = published;
        reads.push(this.#readShard(shard, now));
      }
    }
    return reads.length === 0 ? undefined : Promise.all(reads).then(() => undefined);
  }

  async #readShard(shard: number, now: number): Promise<void> {
    const freshness = this.#shardReads[shard] as Freshness;
    try {
      const buffer = await this.#get(shardKey(shard), "arrayBuffer");
      if (buffer !== null) {
        const view = parse((value: ArrayBuffer) => new ShardView(value), buffer);
        if (view.version >= (this.#shards[shard]?.version ?? 0)) this.#shards[shard] = view;
      }
      freshness.readAt = now;
    } finally {
      if (freshness.readingSince === now) freshness.readingSince = undefined;
    }
  }

  async #get<T extends "text" | "arrayBuffer">(key: string, type: T) {
    try {
      return (await this.#kv.get(key, type as "text")) as (T extends "text" ? string : ArrayBuffer) | null;
    } catch (error) {
      const exhausted = exhaustedQuota(error, "read");
      throw new GatewayError("revocation_store_unavailable", {
        detail: exhausted ? "KV daily read limit exhausted (kv_reads)" : "KV read failed",
        publicDetail: exhausted ? "The revocation list's daily KV read limit is exhausted." : undefined,
        cause: error,
      });
    }
  }
}

function parse<I, T>(reader: (input: I) => T, input: I): T {
  try {
    return reader(input);
  } catch (error) {
    throw new GatewayError("revocation_store_unavailable", { detail: "unreadable revocation list", cause: error });
  }
}
