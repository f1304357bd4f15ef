/**
 * One published revocation shard: a KV value of fixed-size records sorted by hash, which
 * an isolate searches where they lie (a binary search over a Uint32Array), so taking in a
 * new shard costs a read and no parsing, and a check costs the same at a thousand entries
 * as at a million. Little-endian, as every Workers runtime is. docs/storage.md has the layout:
 *
 *   header (40 bytes)  magic "PCR2", shard, flags, id count, version (f64),
 *                      publishedAt (f64), subject count, 0
 *   ids                hi, lo, exp                                       3 × u32 each
 *   subjects           hi, lo, exp, at, keepAt, keepHi, keepLo, ms       8 × u32 each
 *
 * Both lists are sorted by (hi, lo). Ids are `jti:` and `sid:` keys; subjects are `sub:`
 * keys with the time a session must have begun by to be covered (seconds, and in `ms` the
 * milliseconds: low 16 bits for `at`, high for `keepAt`), and for a revocation that spared
 * one session, its time and that session's hash.
 */
import { type KeyHash, keyHash } from "./key-hash";
import type { RevocationSubject } from "./revocation-snapshot";

const MAGIC = 0x32524350; // "PCR2"
const HEADER_BYTES = 40;
const ID_WORDS = 3;
const SUBJECT_WORDS = 8;
/** The shard was too large for one KV value: it holds no entries, and the edge fails closed on it. */
export const FLAG_OVERFLOW = 1;
/** Workers KV's limit on one value. */
export const KV_VALUE_LIMIT = 25 * 1024 * 1024;

/** An edge entry as the ledger hands it to the encoder. */
export interface ShardRow {
  readonly hash: KeyHash;
  readonly exp: number;
  /** For `sub` rows: the times (ms since the epoch; 0 for none) and the spared session's hash. */
  readonly subject?: { readonly at: number; readonly keepAt: number; readonly keep: KeyHash | undefined };
}

export interface ShardHeader {
  readonly shard: number;
  readonly version: number;
  readonly publishedAt: number;
}

const byHash = (a: ShardRow, b: ShardRow) => a.hash[0] - b.hash[0] || a.hash[1] - b.hash[1];

/**
 * Sorted rows with one row per hash. Two ids that share a hash (about 5e-14 at a million
 * entries) become one row that refuses both for as long as either lives: a lookup must
 * never find the shorter-lived one and let the other through.
 */
function distinct(sorted: ShardRow[]): ShardRow[] {
  const out: ShardRow[] = [];
  for (const row of sorted) {
    const last = out[out.length - 1];
    if (last === undefined || byHash(last, row) !== 0) {
      out.push(row);
      continue;
    }
    const a = last.subject;
    const b = row.subject;
    out[out.length - 1] = {
      hash: row.hash,
      exp: Math.max(last.exp, row.exp),
      ...(a && b ? { subject: { at: Math.max(a.at, b.at, a.keepAt, b.keepAt), keepAt: 0, keep: undefined } } : {}),
    };
  }
  return out;
}

/** The bytes a shard of this many entries takes. */
export function shardBytes(ids: number, subjects: number): number {
  return HEADER_BYTES + 4 * (ids * ID_WORDS + subjects * SUBJECT_WORDS);
}

/**
 * The KV value for `rows`; past `limit` bytes, the overflow marker instead (a header that
 * says the shard could not be published whole).
 */
export function encodeShard(
  header: ShardHeader,
  rows: readonly ShardRow[],
  limit = KV_VALUE_LIMIT,
): { buffer: ArrayBuffer; overflow: boolean } {
  const ids = distinct(rows.filter((row) => row.subject === undefined).sort(byHash));
  const subjects = distinct(rows.filter((row) => row.subject !== undefined).sort(byHash));
  const overflow = shardBytes(ids.length, subjects.length) > limit;
  const buffer = new ArrayBuffer(overflow ? HEADER_BYTES : shardBytes(ids.length, subjects.length));
  const view = new DataView(buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, header.shard, true);
  view.setUint32(8, overflow ? FLAG_OVERFLOW : 0, true);
  view.setUint32(12, overflow ? 0 : ids.length, true);
  view.setFloat64(16, header.version, true);
  view.setFloat64(24, header.publishedAt, true);
  view.setUint32(32, overflow ? 0 : subjects.length, true);
  if (overflow) return { buffer, overflow };
  const words = new Uint32Array(buffer, HEADER_BYTES);
  let at = 0;
  for (const row of ids) {
    words[at] = row.hash[0];
    words[at + 1] = row.hash[1];
    words[at + 2] = row.exp;
    at += ID_WORDS;
  }
  for (const row of subjects) {
    const subject = row.subject as NonNullable<ShardRow["subject"]>;
    const keep = subject.keep ?? [0, 0];
    const [atSeconds, keepAtSeconds] = [Math.floor(subject.at / 1000), Math.floor(subject.keepAt / 1000)];
    const ms = (subject.at % 1000) | ((subject.keepAt % 1000) << 16);
    words.set([row.hash[0], row.hash[1], row.exp, atSeconds, keepAtSeconds, keep[0], keep[1], ms], at);
    at += SUBJECT_WORDS;
  }
  return { buffer, overflow };
}

/** A shard as an isolate holds it: the KV value itself, with views over its two lists. */
export class ShardView {
  readonly shard: number;
  readonly version: number;
  readonly publishedAt: number;
  /** Published as the overflow marker: nothing in this shard can be checked. */
  readonly overflow: boolean;
  readonly bytes: number;
  readonly #ids: Uint32Array;
  readonly #subjects: Uint32Array;

  /** Throws on anything that is not a shard (the caller fails closed). */
  constructor(buffer: ArrayBuffer) {
    if (buffer.byteLength < HEADER_BYTES) throw new Error("not a revocation shard");
    const view = new DataView(buffer);
    const idCount = view.getUint32(12, true);
    const subjectCount = view.getUint32(32, true);
    if (view.getUint32(0, true) !== MAGIC || buffer.byteLength !== shardBytes(idCount, subjectCount)) {
      throw new Error("not a revocation shard");
    }
    this.shard = view.getUint32(4, true);
    this.overflow = (view.getUint32(8, true) & FLAG_OVERFLOW) !== 0;
    this.version = view.getFloat64(16, true);
    this.publishedAt = view.getFloat64(24, true);
    this.bytes = buffer.byteLength;
    this.#ids = new Uint32Array(buffer, HEADER_BYTES, idCount * ID_WORDS);
    this.#subjects = new Uint32Array(buffer, HEADER_BYTES + this.#ids.byteLength, subjectCount * SUBJECT_WORDS);
  }

  get entries(): number {
    return this.#ids.length / ID_WORDS + this.#subjects.length / SUBJECT_WORDS;
  }

  /** Is the `jti:` or `sid:` key with this hash revoked at `seconds`? */
  revokesId(hash: KeyHash, seconds: number): boolean {
    const index = find(this.#ids, ID_WORDS, hash);
    return index >= 0 && (this.#ids[index + 2] as number) > seconds;
  }

  /** Does the `sub:` revocation with this hash cover the session of `claims` at `seconds`? */
  coversSubject(hash: KeyHash, claims: RevocationSubject, seconds: number): boolean {
    const words = this.#subjects;
    const index = find(words, SUBJECT_WORDS, hash);
    if (index < 0 || (words[index + 2] as number) <= seconds) return false;
    // To the millisecond: a session that began just after the revocation, in the same second, is not covered.
    const began = Math.round(claims.authTime * 1000);
    const ms = words[index + 7] as number;
    if (began <= (words[index + 3] as number) * 1000 + (ms & 0xffff)) return true;
    const keepAt = (words[index + 4] as number) * 1000 + (ms >>> 16);
    if (keepAt === 0 || began > keepAt) return false;
    if (claims.sid === undefined) return true;
    const kept = keyHash("sid", claims.sid);
    return kept[0] !== words[index + 5] || kept[1] !== words[index + 6];
  }
}

/** The word index of the record with `hash` in `words` (records of `stride` words), or -1. */
function find(words: Uint32Array, stride: number, hash: KeyHash): number {
  let low = 0;
  let high = words.length / stride - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const at = middle * stride;
    const hi = words[at] as number;
    const lo = words[at + 1] as number;
    if (hi === hash[0] && lo === hash[1]) return at;
    if (hi < hash[0] || (hi === hash[0] && lo < hash[1])) low = middle + 1;
    else high = middle - 1;
  }
  return -1;
}
