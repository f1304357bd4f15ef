/**
 * What a provider's introspection endpoint said about opaque tokens, per isolate, so a
 * client's next requests with the same token do not ask again.
 *
 * Keyed by the SHA-256 of the token (base64url), never the token itself: a key that ends up
 * in a heap dump, a debugger or a log line gives nothing a caller could present. Active
 * answers are kept until the token's `exp` and at most `cache_seconds`, the bound on how
 * long a token revoked at the provider still passes here; inactive answers for
 * NEGATIVE_INTROSPECTION_CACHE_SECONDS, so a flood of made-up tokens costs the provider one
 * call per distinct token at most every few seconds. At most MAX_INTROSPECTED_TOKENS
 * entries, oldest first out.
 */
import { base64url } from "jose";
import type { AccessTokenClaims } from "./access-token-claims";

export const MAX_INTROSPECTED_TOKENS = 4096;

/** An answer remembered: the claims of an active token, or `inactive`; good until `until` (ms). */
export interface RememberedAnswer {
  readonly claims: AccessTokenClaims | "inactive";
  readonly until: number;
}

/** The cache key of a token: its SHA-256, base64url. */
export async function tokenDigest(token: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token));
  return base64url.encode(new Uint8Array(digest));
}

export class IntrospectionCache {
  readonly #entries = new Map<string, RememberedAnswer>();

  /** The answer remembered for this digest at `now` (ms), or undefined (none, or gone stale). */
  get(digest: string, now: number): RememberedAnswer | undefined {
    const entry = this.#entries.get(digest);
    if (entry === undefined) return undefined;
    if (entry.until <= now) {
      this.#entries.delete(digest);
      return undefined;
    }
    return entry;
  }

  /** Remember `claims` (or `inactive`) until `until` (ms); nothing when that is not later than `now`. */
  set(digest: string, claims: AccessTokenClaims | "inactive", until: number, now: number): void {
    if (until <= now) return;
    this.#entries.delete(digest);
    if (this.#entries.size >= MAX_INTROSPECTED_TOKENS) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
    this.#entries.set(digest, { claims, until });
  }

  get size(): number {
    return this.#entries.size;
  }
}
