/** Key material made fresh for each test run (never the repository's dev key). */
import { exportJWK, generateKeyPair, type JWK } from "jose";

export interface TestKey {
  readonly privateJwk: JWK;
  readonly publicJwk: JWK;
  readonly privateKey: CryptoKey;
}

export async function makeKey(alg: "EdDSA" | "ES256" | "RS256", kid: string): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, {
    extractable: true,
    ...(alg === "EdDSA" ? { crv: "Ed25519" } : {}),
  });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg, use: "sig" };
  return { privateJwk, publicJwk, privateKey: privateKey as CryptoKey };
}

export const TEST_SECRETS = {
  CREDENTIAL_CHECK_SECRET: "test-credential-secret-0123456789abcdef",
  OPERATOR_TOKEN: "test-operator-token-0123456789abcdef-xyz",
  ACCESS_SECRET: "test-hs256-shared-secret-0123456789abcdef",
} as const;
