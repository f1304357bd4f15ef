/**
 * What every verifier of an access token is given and answers: the gateway's own and
 * other issuers' JWTs (verify-access-token.ts) and opaque tokens asked of a provider
 * (token-introspection.ts). Apart, so neither imports the other.
 */
import type { AccessTokenClaims } from "./access-token-claims";

export interface VerifyOptions {
  readonly issuer: string;
  readonly audience: string;
  readonly clockToleranceSeconds: number;
  /** Milliseconds since the epoch. */
  readonly now: number;
}

/** `expired`: the signature and every other claim check out, but `exp` has passed (a transparent refresh may follow). */
export type VerifyResult =
  | { readonly status: "valid"; readonly claims: AccessTokenClaims }
  | { readonly status: "expired"; readonly claims: AccessTokenClaims };
