import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import type { ConfigEnv } from "../../src/config/env";
import { parseConfig } from "../../src/config/parse-config";
import { GatewayError } from "../../src/errors/gateway-error";
import { KeyRing } from "../../src/tokens/key-ring";
import { rememberedVerification, verifyAndRemember } from "../../src/tokens/verification-cache";
import type { VerifyOptions, VerifyResult } from "../../src/tokens/verify-access-token";

const SECRET = "a-shared-secret-that-is-long-enough-0123";
const config = parseConfig({
  PORTCULLIS_ENV: "production",
  UPSTREAM_URL: "https://api.example.com",
  TOKEN_ISSUER: "https://auth.example.com",
  TOKEN_AUDIENCE: "example-api",
  ACCESS_SECRET: SECRET,
} as unknown as ConfigEnv);
const NOW = 1_800_000_000_000;
const options = (now: number) => ({
  issuer: config.issuer,
  audience: config.audience,
  clockToleranceSeconds: 5,
  now,
});

/** As the gateway asks: the isolate's memory first, else a verification that is remembered. */
async function verifyAccessTokenCached(token: string, keys: KeyRing, options: VerifyOptions): Promise<VerifyResult> {
  return (
    rememberedVerification(token, keys, options.now, options.clockToleranceSeconds) ??
    verifyAndRemember(token, keys, options)
  );
}

function sign(claims: Record<string, unknown>, secret = SECRET): Promise<string> {
  return new SignJWT({ sub: "user-1", iss: config.issuer, aud: config.audience, ...claims })
    .setProtectedHeader({ alg: "HS256" })
    .sign(new TextEncoder().encode(secret));
}

describe("verifyAccessTokenCached", () => {
  it("answers a remembered token as expired once its exp has passed, like a fresh verification", async () => {
    const keys = await KeyRing.create(config);
    const iat = NOW / 1000;
    const token = await sign({ iat, exp: iat + 60 });
    expect((await verifyAccessTokenCached(token, keys, options(NOW))).status).toBe("valid");
    expect((await verifyAccessTokenCached(token, keys, options(NOW + 30_000))).status).toBe("valid");
    const later = await verifyAccessTokenCached(token, keys, options(NOW + 66_000));
    expect(later.status).toBe("expired");
    expect(later.claims.sub).toBe("user-1");
  });

  it("never remembers a refusal", async () => {
    const keys = await KeyRing.create(config);
    const iat = NOW / 1000;
    const forged = await sign({ iat, exp: iat + 60 }, "another-secret-that-is-long-enough-0123");
    for (let attempt = 0; attempt < 2; attempt += 1) {
      await expect(verifyAccessTokenCached(forged, keys, options(NOW))).rejects.toBeInstanceOf(GatewayError);
    }
  });

  it("keeps each key ring's results apart", async () => {
    const iat = NOW / 1000;
    const token = await sign({ iat, exp: iat + 60 });
    await verifyAccessTokenCached(token, await KeyRing.create(config), options(NOW));
    const other = parseConfig({
      PORTCULLIS_ENV: "production",
      UPSTREAM_URL: "https://api.example.com",
      TOKEN_ISSUER: config.issuer,
      TOKEN_AUDIENCE: config.audience,
      ACCESS_SECRET: "a-different-secret-that-is-long-enough",
    } as unknown as ConfigEnv);
    await expect(verifyAccessTokenCached(token, await KeyRing.create(other), options(NOW))).rejects.toBeInstanceOf(
      GatewayError,
    );
  });
});
