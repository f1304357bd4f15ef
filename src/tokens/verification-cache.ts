/**
 * Remembers, per isolate and key ring, access tokens whose signature and claims have
 * been verified, so a client's later requests with the same token skip the signature
 * check (the largest share of the gateway's CPU per request, see docs/benchmarks.md).
 *
 * Only the time-dependent part is re-evaluated on a hit: a remembered token past its
 * `exp` comes back as `expired`, exactly as a fresh verification would say. Revocation is
 * not cached here; it is checked on every request. The cache holds at most
 * MAX_VERIFIED_TOKENS tokens (oldest first out). One consequence, documented in
 * SECURITY.md: a key removed from a remote JWKS stops verifying *new* tokens at once, but
 * tokens already seen by an isolate stay valid there until they expire.
 *
 * An opaque token (token-introspection.ts) is not remembered here: its answers have their
 * own cache, keyed by a digest and capped at `cache_seconds`, so a revocation at its
 * provider bites; this one would keep it until its `exp`.
 */
import type { AccessTokenClaims } from "./access-token-claims";
import type { KeyRing } from "./key-ring";
import { isOpaqueToken } from "./token-introspection";
import { type VerifyOptions, type VerifyResult, verifyAccessToken } from "./verify-access-token";

export const MAX_VERIFIED_TOKENS = 4096;

const caches = new WeakMap<KeyRing, Map<string, AccessTokenClaims>>();

function cacheFor(keys: KeyRing): Map<string, AccessTokenClaims> {
  let cache = caches.get(keys);
  if (cache === undefined) {
    cache = new Map();
    caches.set(keys, cache);
  }
  return cache;
}

/**
 * What a verification of `token` would say at `now` (ms), from the isolate's memory:
 * undefined when this exact token has not verified here before. Synchronous, so the
 * common case (a client's next request with the same token) costs no await.
 */
export function rememberedVerification(
  token: string,
  keys: KeyRing,
  now: number,
  clockToleranceSeconds: number,
): VerifyResult | undefined {
  const claims = caches.get(keys)?.get(token);
  if (claims === undefined) return undefined;
  const expired = claims.exp <= Math.floor(now / 1000) - clockToleranceSeconds;
  return expired ? { status: "expired", claims } : { status: "valid", claims };
}

/** `verifyAccessToken`, remembering a valid token: for a caller that already looked it up. */
export async function verifyAndRemember(token: string, keys: KeyRing, options: VerifyOptions): Promise<VerifyResult> {
  const result = await verifyAccessToken(token, keys, options);
  if (result.status === "valid" && !isOpaqueToken(token)) {
    const cache = cacheFor(keys);
    if (cache.size >= MAX_VERIFIED_TOKENS) {
      const oldest = cache.keys().next().value;
      if (oldest !== undefined) cache.delete(oldest);
    }
    cache.set(token, result.claims);
  }
  return result;
}
