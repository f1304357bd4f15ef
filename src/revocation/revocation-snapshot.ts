/**
 * The published revocation snapshot: every live revocation the edge must check, in one
 * small, versioned KV value (key `snapshot`, see docs/storage.md).
 *
 * One value instead of a key per token is what makes the edge's KV cost independent of
 * traffic: an isolate reads it once per REVOCATION_CACHE_SECONDS whatever the number of
 * distinct tokens it sees. Entries carry their own expiry and are ignored once past it,
 * so a snapshot never needs republishing just because something expired.
 */

/** What a revocation applies to: one access token, one session, or a subject's sessions. */
export type RevocationKind = "jti" | "sid" | "sub";

/** The KV key the ledger publishes to. */
export const SNAPSHOT_KEY = "snapshot";
export const SNAPSHOT_FORMAT = 1;
/** The ledger publishes at most once per this interval (and only when something changed). */
export const PUBLISH_INTERVAL_MS = 1_000;

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

export interface Snapshot {
  readonly format: typeof SNAPSHOT_FORMAT;
  /** Grows with every publish; an isolate never goes back to an older one. */
  readonly version: number;
  /** When the ledger published it (ms). */
  readonly publishedAt: number;
  readonly jti: Readonly<Record<string, SnapshotEntry>>;
  readonly sid: Readonly<Record<string, SnapshotEntry>>;
  readonly sub: Readonly<Record<string, SnapshotEntry>>;
}

export const EMPTY_SNAPSHOT: Snapshot = Object.freeze({
  format: SNAPSHOT_FORMAT,
  version: 0,
  publishedAt: 0,
  jti: {},
  sid: {},
  sub: {},
});

/** The claims a revocation check needs. */
export interface RevocationSubject {
  readonly jti: string | undefined;
  readonly sid: string | undefined;
  readonly sub: string;
  /** When the token's session began (s). */
  readonly authTime: number;
}

function live(entry: SnapshotEntry | undefined, nowSeconds: number): entry is SnapshotEntry {
  return entry !== undefined && entry.exp > nowSeconds;
}

/** Why `claims` is revoked by `snapshot`, or undefined. */
export function revokedIn(snapshot: Snapshot, claims: RevocationSubject, now: number): RevocationKind | undefined {
  const seconds = now / 1000;
  if (claims.jti !== undefined && live(own(snapshot.jti, claims.jti), seconds)) return "jti";
  if (claims.sid !== undefined && live(own(snapshot.sid, claims.sid), seconds)) return "sid";
  const subject = own(snapshot.sub, claims.sub);
  if (live(subject, seconds) && coversSession(subject, claims)) return "sub";
  return undefined;
}

/** A subject's revocation covers the sessions that began at or before it, but the one it keeps. */
export function coversSession(entry: SnapshotEntry, claims: RevocationSubject): boolean {
  const began = claims.authTime * 1000;
  if (began <= entry.at) return true;
  return entry.keepAt !== undefined && began <= entry.keepAt && claims.sid !== entry.keep;
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

/** The entry a revocation made at `now` (ms) adds, living `ttlSeconds`; `keep` spares one session. */
export function freshEntry(now: number, ttlSeconds: number, keep?: string): SnapshotEntry {
  const exp = Math.ceil(now / 1000 + ttlSeconds);
  return keep === undefined ? { at: now, exp } : { at: 0, exp, keep, keepAt: now };
}

/** A property of the object itself, never of its prototype (a `sub` may be "constructor"). */
function own(map: Readonly<Record<string, SnapshotEntry>>, key: string): SnapshotEntry | undefined {
  return Object.hasOwn(map, key) ? map[key] : undefined;
}

/** Parse a stored snapshot; anything unreadable is an error (the caller fails closed). */
export function parseSnapshot(text: string): Snapshot {
  const value = JSON.parse(text) as Partial<Snapshot>;
  if (
    value.format !== SNAPSHOT_FORMAT ||
    typeof value.version !== "number" ||
    typeof value.publishedAt !== "number" ||
    !isEntryMap(value.jti) ||
    !isEntryMap(value.sid) ||
    !isEntryMap(value.sub)
  ) {
    throw new Error("not a revocation snapshot");
  }
  return value as Snapshot;
}

function isEntryMap(value: unknown): value is Record<string, SnapshotEntry> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
