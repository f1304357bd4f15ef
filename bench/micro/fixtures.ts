/**
 * What the micro-benchmarks share: a production config parsed the way the Worker parses
 * it, key rings per algorithm, and tokens signed with them.
 */
import type { JWK } from "jose";
import type { GatewayConfig } from "../../src/config/config";
import type { ConfigEnv } from "../../src/config/env";
import { parseConfig } from "../../src/config/parse-config";
import { KeyRing } from "../../src/tokens/key-ring";
import { AUDIENCE, ISSUER } from "../../test/support/gateway";
import { makeKey, TEST_SECRETS, type TestKey } from "../../test/support/test-keys";
import { mintToken } from "../../test/support/tokens";

export type Algorithm = "EdDSA" | "ES256" | "RS256" | "HS256";
export const ALGORITHMS: readonly Algorithm[] = ["EdDSA", "ES256", "RS256", "HS256"];

export function configWith(vars: Partial<Record<keyof ConfigEnv, string>>): GatewayConfig {
  return parseConfig({
    PORTCULLIS_ENV: "production",
    UPSTREAM_URL: "http://127.0.0.1:9",
    TOKEN_ISSUER: ISSUER,
    TOKEN_AUDIENCE: AUDIENCE,
    ...vars,
  } as unknown as ConfigEnv);
}

export interface AlgorithmFixture {
  readonly config: GatewayConfig;
  readonly keys: KeyRing;
  /** A valid token for this key ring. */
  readonly token: string;
  /** The same kind of token, expired an hour ago (the transparent refresh's input). */
  readonly expired: string;
}

async function hs256Token(ttl: number, iatOffset: number): Promise<string> {
  const { SignJWT } = await import("jose");
  const now = Math.floor(Date.now() / 1000) + iatOffset;
  return new SignJWT({ sid: "AAAAAAAAAAAAAAAAAAAAAA", scope: "read write" })
    .setProtectedHeader({ alg: "HS256" })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setSubject("user-alice")
    .setIssuedAt(now)
    .setExpirationTime(now + ttl)
    .setJti(crypto.randomUUID())
    .sign(new TextEncoder().encode(TEST_SECRETS.ACCESS_SECRET));
}

export async function algorithmFixture(alg: Algorithm): Promise<AlgorithmFixture> {
  if (alg === "HS256") {
    const config = configWith({ ACCESS_SECRET: TEST_SECRETS.ACCESS_SECRET });
    return {
      config,
      keys: await KeyRing.create(config),
      token: await hs256Token(300, 0),
      expired: await hs256Token(900, -3600),
    };
  }
  const key: TestKey = await makeKey(alg, `bench-${alg.toLowerCase()}`);
  const config = configWith({ SIGNING_KEYS: JSON.stringify([key.privateJwk as JWK]) });
  return {
    config,
    keys: await KeyRing.create(config),
    token: await mintToken(key),
    expired: await mintToken(key, { iatOffset: -3600, ttl: 900 }),
  };
}
