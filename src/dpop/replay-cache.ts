/**
 * The `jti`s of DPoP proofs this isolate accepted, each kept until its proof would be too
 * old anyway, so a proof is accepted once (RFC 9449 §11.1). Per isolate: another isolate
 * or location has its own, which is why the `htu`, `htm` and short `iat` window matter and
 * why `revocation = "strict"` routes also ask the session's Durable Object
 * (sessions/proof-jtis.ts), which is one for the whole world.
 *
 * Bounded: past MAX_ENTRIES, expired entries go first, then the oldest. Entries are keyed
 * by thumbprint and jti, so a client filling the cache only pushes out entries older than
 * its own, and a replay needs the proof itself, which only its maker and the path it took
 * have seen.
 */
const MAX_ENTRIES = 65_536;
const seen = new Map<string, number>();

/** True the first time this key's `jti` is claimed before `untilMs`; false for a replay. */
export function claimJti(jkt: string, jti: string, untilMs: number, now: number = Date.now()): boolean {
  const key = `${jkt}:${jti}`;
  const held = seen.get(key);
  if (held !== undefined && held > now) return false;
  if (seen.size >= MAX_ENTRIES) evict(now);
  seen.set(key, untilMs);
  return true;
}

function evict(now: number): void {
  for (const [key, until] of seen) if (until <= now) seen.delete(key);
  // Still full of live entries: the oldest tenth goes (insertion order is age order).
  let drop = seen.size >= MAX_ENTRIES ? MAX_ENTRIES / 10 : 0;
  for (const key of seen.keys()) {
    if (drop-- <= 0) break;
    seen.delete(key);
  }
}
