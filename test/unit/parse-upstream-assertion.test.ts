import { exportJWK, generateKeyPair } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import type { ConfigEnv } from "../../src/config/env";
import { ConfigError, parseConfig } from "../../src/config/parse-config";

let signingKeys: string;
beforeAll(async () => {
  const { privateKey } = await generateKeyPair("EdDSA", { extractable: true });
  signingKeys = JSON.stringify([{ ...(await exportJWK(privateKey)), kid: "k1", alg: "EdDSA" }]);
});

const base = {
  PORTCULLIS_ENV: "production",
  UPSTREAM_URL: "https://api.internal.example:8443/v1",
  TOKEN_ISSUER: "https://auth.example.com",
  TOKEN_AUDIENCE: "example-api",
};

function parse(env: Record<string, unknown>) {
  return parseConfig({ ...base, SIGNING_KEYS: signingKeys, ...env } as unknown as ConfigEnv);
}

function refusal(env: Record<string, unknown>): string | undefined {
  try {
    parse(env);
    return undefined;
  } catch (error) {
    if (error instanceof ConfigError) return error.detail;
    throw error;
  }
}

describe("UPSTREAM_ASSERTION", () => {
  it("is off by default", () => {
    expect(parse({}).upstreamAssertion).toBeUndefined();
  });

  it("is addressed to the upstream's origin by default, for 60 seconds", () => {
    expect(parse({ UPSTREAM_ASSERTION: true }).upstreamAssertion).toEqual({
      audience: "https://api.internal.example:8443",
      ttlSeconds: 60,
      claims: [],
    });
  });

  it("takes UPSTREAM_ASSERTION_AUDIENCE", () => {
    const config = parse({ UPSTREAM_ASSERTION: "true", UPSTREAM_ASSERTION_AUDIENCE: "urn:orders-api" });
    expect(config.upstreamAssertion?.audience).toBe("urn:orders-api");
  });

  it("needs SIGNING_KEYS: an HS256 ACCESS_SECRET cannot be verified from the JWKS", () => {
    expect(
      refusal({
        UPSTREAM_ASSERTION: "true",
        SIGNING_KEYS: undefined,
        ACCESS_SECRET: "a-shared-secret-that-is-long-enough-0123",
      }),
    ).toMatch(/^UPSTREAM_ASSERTION: needs SIGNING_KEYS/);
  });

  it("needs an audience when the upstream is a service binding", () => {
    expect(refusal({ UPSTREAM_ASSERTION: "true", UPSTREAM_URL: undefined, UPSTREAM: {} })).toMatch(
      /^UPSTREAM_ASSERTION_AUDIENCE: is required/,
    );
    expect(
      parse({ UPSTREAM_ASSERTION: "true", UPSTREAM_URL: undefined, UPSTREAM: {}, UPSTREAM_ASSERTION_AUDIENCE: "api" })
        .upstreamAssertion?.audience,
    ).toBe("api");
  });

  it("refuses an audience without the setting, a malformed one, and a value that is not a boolean", () => {
    expect(refusal({ UPSTREAM_ASSERTION_AUDIENCE: "api" })).toMatch(/^UPSTREAM_ASSERTION_AUDIENCE: is set but/);
    expect(refusal({ UPSTREAM_ASSERTION: "true", UPSTREAM_ASSERTION_AUDIENCE: "two words" })).toMatch(
      /^UPSTREAM_ASSERTION_AUDIENCE: must not/,
    );
    expect(refusal({ UPSTREAM_ASSERTION: "yes" })).toMatch(/^UPSTREAM_ASSERTION: must be "true" or "false"/);
  });

  it("takes UPSTREAM_ASSERTION_CLAIMS, and refuses one the assertion sets itself", () => {
    expect(
      parse({ UPSTREAM_ASSERTION: "true", UPSTREAM_ASSERTION_CLAIMS: '["email","groups"]' }).upstreamAssertion?.claims,
    ).toEqual(["email", "groups"]);
    expect(refusal({ UPSTREAM_ASSERTION: "true", UPSTREAM_ASSERTION_CLAIMS: '["email","aud"]' })).toMatch(
      /^UPSTREAM_ASSERTION_CLAIMS: "aud" is set by the gateway itself/,
    );
    expect(refusal({ UPSTREAM_ASSERTION: "true", UPSTREAM_ASSERTION_CLAIMS: '"email"' })).toMatch(
      /^UPSTREAM_ASSERTION_CLAIMS: must be a list/,
    );
    expect(refusal({ UPSTREAM_ASSERTION_CLAIMS: '["email"]' })).toMatch(/^UPSTREAM_ASSERTION_CLAIMS: is set but/);
  });
});
