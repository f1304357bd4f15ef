/**
 * The settings secret rotations use (docs/operations.md): SIGNING_KEYS_PREVIOUS,
 * ACTIVE_SIGNING_KID's fallback, OPERATOR_TOKEN_PREVIOUS and OIDC_SEALING_SECRET_PREVIOUS.
 * Every state between two steps of a rotation parses; every mistake is a ConfigError
 * naming the setting, never echoing a secret. And a seal only the previous sealing secret
 * opens is sealed anew with the current one.
 */
import { exportJWK, generateKeyPair, type JWK } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { DEV_OPERATOR_TOKEN, DEV_SIGNING_KEY } from "../../src/config/dev-keys";
import type { ConfigEnv } from "../../src/config/env";
import { ConfigError, parseConfig } from "../../src/config/parse-config";
import { seal, unseal, unsealNoting } from "../../src/oidc/sealing";
import { freshIdpTokens } from "../../src/sessions/idp-session";

const OPERATOR_TOKEN = "an-operator-token-that-is-long-enough-0123";
const base = {
  PORTCULLIS_ENV: "production",
  UPSTREAM_URL: "https://api.example.com",
  TOKEN_ISSUER: "https://auth.example.com",
  TOKEN_AUDIENCE: "example-api",
  OPERATOR_TOKEN,
} as unknown as ConfigEnv;

let current: JWK;
let retired: JWK;
let retiredPrivate: JWK;

async function keyPair(kid: string): Promise<{ privateJwk: JWK; publicJwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  return {
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg: "EdDSA" },
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg: "EdDSA", use: "sig" },
  };
}

beforeAll(async () => {
  current = (await keyPair("current")).privateJwk;
  const old = await keyPair("retired");
  retired = old.publicJwk;
  retiredPrivate = old.privateJwk;
});

function parse(env: Record<string, unknown>) {
  return parseConfig({ ...base, SIGNING_KEYS: JSON.stringify([current]), ...env } as ConfigEnv);
}

function refusal(env: Record<string, unknown>): { setting: string; message: string } | undefined {
  try {
    parse(env);
    return undefined;
  } catch (error) {
    if (error instanceof ConfigError) return { setting: error.setting, message: error.message };
    throw error;
  }
}

describe("SIGNING_KEYS_PREVIOUS", () => {
  it("takes the public keys of the published JWKS, leaving a key SIGNING_KEYS still holds to it", () => {
    const { x, kty, crv } = current;
    const published = { keys: [{ kty, crv, x, kid: "current", alg: "EdDSA", use: "sig" }, retired] };
    const config = parse({ SIGNING_KEYS_PREVIOUS: JSON.stringify(published) });
    expect(config.previousSigningKeys.map((key) => key.kid)).toEqual(["retired"]);
    expect(config.activeSigningKid).toBe("current");
    expect(parse({ SIGNING_KEYS_PREVIOUS: JSON.stringify([retired]) }).previousSigningKeys).toHaveLength(1);
  });

  it.each([
    ["not JSON", () => "{"],
    ["an empty list", () => "[]"],
    ["a private key", () => JSON.stringify([retiredPrivate])],
    ["a key without kid", () => JSON.stringify([{ ...retired, kid: undefined }])],
    ["a key of another algorithm", () => JSON.stringify([{ ...retired, alg: "HS256" }])],
    ["a key whose members do not match its algorithm", () => JSON.stringify([{ ...retired, alg: "ES256" }])],
    ["a key without its public member", () => JSON.stringify([{ ...retired, x: undefined }])],
    ["a key not for signatures", () => JSON.stringify([{ ...retired, use: "enc" }])],
    ["a kid twice", () => JSON.stringify([retired, retired])],
    ["another key under a kid of SIGNING_KEYS", () => JSON.stringify([{ ...retired, kid: "current" }])],
    ["the development key", () => JSON.stringify([{ ...DEV_SIGNING_KEY, d: undefined }])],
  ])("refuses %s, naming the setting and no key material", (_name, value) => {
    const refused = refusal({ SIGNING_KEYS_PREVIOUS: value() });
    expect(refused?.setting).toBe("SIGNING_KEYS_PREVIOUS");
    expect(refused?.message).not.toContain(String(retiredPrivate.d));
  });

  it("needs SIGNING_KEYS: it only verifies the keys it retired", () => {
    expect(refusal({ SIGNING_KEYS: undefined, SIGNING_KEYS_PREVIOUS: JSON.stringify([retired]) })?.setting).toBe(
      "SIGNING_KEYS",
    );
  });
});

describe("ACTIVE_SIGNING_KID", () => {
  it("naming a key SIGNING_KEYS holds: that key signs", () => {
    const other = { ...current, kid: "other" };
    const config = parse({ SIGNING_KEYS: JSON.stringify([current, other]), ACTIVE_SIGNING_KID: "other" });
    expect(config).toMatchObject({ activeSigningKid: "other", activeSigningKidFallback: undefined });
  });

  it("naming a key SIGNING_KEYS does not hold (they deploy apart): the first key signs, the kid is kept to log", () => {
    expect(parse({ ACTIVE_SIGNING_KID: "retired" })).toMatchObject({
      activeSigningKid: "current",
      activeSigningKidFallback: "retired",
    });
  });

  it("naming a key when SIGNING_KEYS holds none: refused", () => {
    const refused = refusal({
      SIGNING_KEYS: undefined,
      ACCESS_SECRET: "a-shared-secret-that-is-long-enough-0123",
      ACTIVE_SIGNING_KID: "current",
    });
    expect(refused?.setting).toBe("ACTIVE_SIGNING_KID");
  });
});

describe("OPERATOR_TOKEN_PREVIOUS", () => {
  const previous = "the-operator-token-being-replaced-0123456";

  it("is kept beside OPERATOR_TOKEN; equal to it (the rotation's first step) it adds nothing", () => {
    expect(parse({ OPERATOR_TOKEN_PREVIOUS: previous }).operatorTokenPrevious).toBe(previous);
    expect(parse({ OPERATOR_TOKEN_PREVIOUS: OPERATOR_TOKEN }).operatorTokenPrevious).toBeUndefined();
    expect(parse({}).operatorTokenPrevious).toBeUndefined();
  });

  it.each([
    ["too short", { OPERATOR_TOKEN_PREVIOUS: "short" }],
    ["the development token in production", { OPERATOR_TOKEN_PREVIOUS: DEV_OPERATOR_TOKEN }],
    ["without OPERATOR_TOKEN", { OPERATOR_TOKEN: undefined, OPERATOR_TOKEN_PREVIOUS: previous }],
  ])("refuses it %s, naming it and not its value", (_name, env) => {
    const refused = refusal(env);
    expect(refused?.setting).toBe("OPERATOR_TOKEN_PREVIOUS");
    expect(refused?.message).not.toContain(previous);
  });
});

describe("OIDC_SEALING_SECRET_PREVIOUS", () => {
  const oidc = {
    IDP_LOGOUT_INDEX: {},
    OIDC_ISSUER: "https://idp.example.com",
    OIDC_CLIENT_ID: "portcullis",
    OIDC_CLIENT_SECRET: "a-client-secret-that-is-long-enough-0123",
    OIDC_SEALING_SECRET: "the-sealing-secret-after-the-rotation-0123",
  };

  it("equal to the current secret (the rotation's first step) parses, and adds nothing", () => {
    const config = parse({ ...oidc, OIDC_SEALING_SECRET_PREVIOUS: oidc.OIDC_SEALING_SECRET });
    expect(config.oidc?.sealingSecrets).toEqual({ current: oidc.OIDC_SEALING_SECRET, previous: undefined });
  });

  it("opens what it sealed, and the session's tokens are sealed anew with the current secret", async () => {
    const previous = "the-sealing-secret-before-the-rotation-01";
    const config = parse({ ...oidc, OIDC_SEALING_SECRET_PREVIOUS: previous }).oidc;
    if (config === undefined) throw new Error("no OIDC config");
    const tokens = { accessToken: "a", idToken: "i", sub: "alice", accessExpiresAt: Date.now() + 3_600_000 };
    const state = {
      sealed: await seal(previous, "idp-tokens", "sid-1", tokens),
      accessExpiresAt: tokens.accessExpiresAt,
    };
    expect(await unsealNoting(config.sealingSecrets, "idp-tokens", "sid-1", state.sealed)).toEqual({
      value: tokens,
      byPrevious: true,
    });

    const fresh = await freshIdpTokens(config, "sid-1", state, Date.now(), { refreshIfStale: true });
    if (!fresh.ok) throw new Error(fresh.detail);
    expect(fresh).toMatchObject({ tokens, refreshed: false, resealed: true });
    expect(await unseal(oidc.OIDC_SEALING_SECRET, "idp-tokens", "sid-1", fresh.state.sealed)).toEqual(tokens);
    expect(await unseal(previous, "idp-tokens", "sid-1", fresh.state.sealed)).toBeUndefined();

    const again = await freshIdpTokens(config, "sid-1", fresh.state, Date.now(), { refreshIfStale: true });
    expect(again).toMatchObject({ ok: true, resealed: false, state: fresh.state });
  });
});
