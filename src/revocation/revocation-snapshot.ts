/**
 * What the edge checks, and how it is published (docs/storage.md):
 *
 *   revocations        the manifest: the version of each shard (JSON, a few hundred bytes)
 *   revocations/<k>    shard k: the live `jti`, `sid` and `sub` entries whose hash falls
 *                      in it, as fixed-size records (shard-format.ts)
 *   snapshot           the format-1 snapshot of versions before 0.2 (one JSON object of
 *                      every entry); read only until the ledger has carried it over
 *
 * An isolate reads the manifest once per REVOCATION_CACHE_SECONDS, and a shard only when
 * a token it checks falls in that shard and the manifest names a newer version than the
 * one it holds: KV reads grow with isolates, time and shards that changed, never with
 * requests, users or the number of live revocations.
 */

/** What a revocation applies to: one access token, one session, or a subject's sessions. */
export type RevocationKind = "jti" | "sid" | "sub";

/** The ledger instances (revocation-ledger.ts): the manifest's, and each shard's. */
export const COORDINATOR = "edge";
export const ledgerShardName = (shard: number) => `edge/${shard}`;

export const MANIFEST_KEY = "revocations";
export const shardKey = (shard: number) => `revocations/${shard}`;
/** The format-1 snapshot of earlier versions. */
export const LEGACY_SNAPSHOT_KEY = "snapshot";
export const MANIFEST_FORMAT = 2;
/** A ledger shard publishes at most once per this interval (and only when something changed); the manifest too. */
export const PUBLISH_INTERVAL_MS = 1_000;

/** A revocation to record. `rt` is a spent refresh token (recorded in the ledger, never published). */
export interface RevocationInput {
  readonly kind: RevocationKind | "rt";
  readonly id: string;
  readonly reason: string;
  /** How long it must be remembered, seconds from now. */
  readonly ttlSeconds: number;
  /** For `sub`: the session it spares (revoke-others keeps the caller's own). */
  readonly keep?: string;
}

/** One live revocation: `at` is when it was made (ms), `exp` when it stops mattering (s). */
export interface SnapshotEntry {
  readonly at: number;
  readonly exp: number;
  /**
   * For `sub`, a revocation of every session but one (revoke-others): the sessions that
   * began at or before `keepAt` (ms) are refused too, except `keep`. `at` is then the time
   * of the last revocation that spared none (0 if none did).
   */
  readonly keep?: string;
  readonly keepAt?: number;
}

/** The claims a revocation check needs. */
export interface RevocationSubject {
  readonly jti: string | undefined;
  readonly sid: string | undefined;
  readonly sub: string;
  /**
   * When the token's session began: seconds, to the millisecond for the gateway's own
   * sessions (`auth_time` + `auth_ms`), whole seconds for other issuers' tokens.
   */
  readonly authTime: number;
}

/** The published manifest: each shard's latest version (0: never published). */
export interface Manifest {
  readonly format: typeof MANIFEST_FORMAT;
  readonly version: number;
  readonly publishedAt: number;
  readonly shards: readonly number[];
  /** Entries of the format-1 snapshot are not all in the shards yet: read it too. */
  readonly legacy: boolean;
}

/** Parse a stored manifest; anything unreadable is an error (the caller fails closed). */
export function parseManifest(text: string): Manifest {
  const value = JSON.parse(text) as Partial<Manifest>;
  if (
    value.format !== MANIFEST_FORMAT ||
    typeof value.version !== "number" ||
    typeof value.publishedAt !== "number" ||
    typeof value.legacy !== "boolean" ||
    !Array.isArray(value.shards) ||
    value.shards.some((version) => typeof version !== "number")
  ) {
    throw new Error("not a revocation manifest");
  }
  return value as Manifest;
}

/** A subject's revocation covers the sessions that began at or before it, but the one it keeps. */
export function coversSession(entry: SnapshotEntry, claims: RevocationSubject): boolean {
  const began = Math.round(claims.authTime * 1000);
  if (began <= entry.at) return true;
  return entry.keepAt !== undefined && began <= entry.keepAt && claims.sid !== entry.keep;
}

/** The entry a revocation made at `now` (ms) adds, living `ttlSeconds`; `keep` spares one session. */
export function freshEntry(now: number, ttlSeconds: number, keep?: string): SnapshotEntry {
  const exp = Math.ceil(now / 1000 + ttlSeconds);
  return keep === undefined ? { at: now, exp } : { at: 0, exp, keep, keepAt: now };
}

/**
 * Two revocations of one key as one: the later time and the longer life (a revocation
 * never shrinks). A later revocation that spares a session replaces an earlier one that
 * spared another (the caller of the later one is the only session it leaves); a later one
 * that spares none makes any earlier exception moot.
 */
export function mergeEntries(previous: SnapshotEntry | undefined, next: SnapshotEntry): SnapshotEntry {
  if (previous === undefined) return next;
  const at = Math.max(previous.at, next.at);
  const exp = Math.max(previous.exp, next.exp);
  const spared = next.keepAt !== undefined && next.keepAt >= (previous.keepAt ?? 0) ? next : previous;
  if (spared.keep === undefined || spared.keepAt === undefined || spared.keepAt <= at) return { at, exp };
  return { at, exp, keep: spared.keep, keepAt: spared.keepAt };
}

/** The format-1 snapshot of earlier versions: every live entry, by kind and id. */
export interface LegacySnapshot {
  readonly format: 1;
  readonly version: number;
  readonly jti: Readonly<Record<string, SnapshotEntry>>;
  readonly sid: Readonly<Record<string, SnapshotEntry>>;
  readonly sub: Readonly<Record<string, SnapshotEntry>>;
}

/** Parse a format-1 snapshot; anything unreadable is an error (the caller fails closed). */
export function parseLegacySnapshot(text: string): LegacySnapshot {
  const value = JSON.parse(text) as Partial<LegacySnapshot>;
  const isMap = (map: unknown) => typeof map === "object" && map !== null && !Array.isArray(map);
  if (value.format !== 1 || typeof value.version !== "number" || ![value.jti, value.sid, value.sub].every(isMap)) {
    throw new Error("not a revocation snapshot");
  }
  return value as LegacySnapshot;
}

/** Why `claims` is revoked by a format-1 snapshot, or undefined. */
export function revokedInLegacy(
  snapshot: LegacySnapshot,
  claims: RevocationSubject,
  now: number,
): RevocationKind | undefined {
  const seconds = now / 1000;
  const live = (entry: SnapshotEntry | undefined): entry is SnapshotEntry => entry !== undefined && entry.exp > seconds;
  if (claims.jti !== undefined && live(own(snapshot.jti, claims.jti))) return "jti";
  if (claims.sid !== undefined && live(own(snapshot.sid, claims.sid))) return "sid";
  const subject = own(snapshot.sub, claims.sub);
  if (live(subject) && coversSession(subject, claims)) return "sub";
  return undefined;
}

/** A property of the object itself, never of its prototype (a `sub` may be "constructor"). */
function own(map: Readonly<Record<string, SnapshotEntry>>, key: string): SnapshotEntry | undefined {
  return Object.hasOwn(map, key) ? map[key] : undefined;
}
