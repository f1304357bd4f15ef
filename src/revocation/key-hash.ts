/**
 * Revoked ids as 64-bit hashes: what the published shards hold and what an isolate looks
 * up, so a shard is fixed-size records searched where they lie, never parsed (shard-format.ts),
 * and the shard an id belongs to is its hash's top bits.
 *
 * Not a cryptographic hash, on purpose: it runs synchronously on every request (three
 * times) and over every entry at each publish. What a collision can do is bounded: a
 * lookup that meets another id's hash refuses the token (fail closed), never accepts a
 * revoked one. The ids hashed are the gateway's own random `jti`/`sid` (128 bits) and the
 * `sub` of a credential check; a user who picked a `sub` to collide with a revoked one
 * gets only their own tokens refused. With a million live entries, a random id meets one
 * with a probability of about 5e-14 per lookup.
 */

/** The ledger's edge entries are split into this many shards, by the top bits of their hash. */
export const REVOCATION_SHARDS = 16;
const SHARD_BITS = Math.log2(REVOCATION_SHARDS);

/** A 64-bit hash as two unsigned 32-bit halves. */
export type KeyHash = readonly [hi: number, lo: number];

/**
 * Two 32-bit multiply-xorshift lanes over the UTF-16 code units, each lane's final mix
 * folding in the other, so every bit of the input reaches both halves.
 */
export function hashText(text: string): KeyHash {
  let a = 0x9e3779b9 ^ text.length;
  let b = 0x85ebca6b ^ Math.imul(text.length, 0x27d4eb2f);
  for (let index = 0; index < text.length; index++) {
    const unit = text.charCodeAt(index);
    a = Math.imul(a ^ unit, 0x9e3779b1);
    a = (a << 13) | (a >>> 19);
    b = Math.imul(b ^ unit, 0x85ebca77);
    b = (b << 17) | (b >>> 15);
  }
  a = Math.imul(a ^ (a >>> 16), 0x7feb352d) ^ Math.imul(b ^ (b >>> 15), 0x846ca68b);
  b = Math.imul(b ^ (b >>> 16), 0x7feb352d) ^ Math.imul(a ^ (a >>> 15), 0x846ca68b);
  a ^= a >>> 16;
  b ^= b >>> 16;
  return [a >>> 0, b >>> 0];
}

/** The hash of one revocation key: its kind is part of it, so a `sid` never meets a `jti`. */
export function keyHash(kind: string, id: string): KeyHash {
  return hashText(`${kind}:${id}`);
}

/** Which shard holds a key with this hash. */
export function shardOf(hash: KeyHash): number {
  return hash[0] >>> (32 - SHARD_BITS);
}

/** Items grouped by the shard of their key (`kind:id`), in first-seen order. */
export function groupByShard<T extends { readonly kind: string; readonly id: string }>(
  items: readonly T[],
): Map<number, T[]> {
  const groups = new Map<number, T[]>();
  for (const item of items) {
    const shard = shardOf(keyHash(item.kind, item.id));
    const group = groups.get(shard);
    if (group === undefined) groups.set(shard, [item]);
    else group.push(item);
  }
  return groups;
}
