/**
 * A key a token may be verified with, wherever it came from: the key ring's own keys
 * (key-ring.ts) or a remote JWKS (remote-key-set.ts). Its own file, so those two need not
 * import each other.
 */
import type { CryptoKey } from "jose";

export type KeySource = "signing-key" | "verify-jwks" | "remote-jwks" | "access-secret";

export interface VerificationKey {
  readonly key: CryptoKey | Uint8Array;
  readonly alg: string;
  readonly kid: string | undefined;
  readonly source: KeySource;
}
