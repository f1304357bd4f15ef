import { describe, expect, it } from "vitest";
import type { ConfigEnv } from "../../src/config/env";
import { ConfigError, parseConfig } from "../../src/config/parse-config";
import { PRODUCTION_BASE } from "../support/issuer-config";

const base = PRODUCTION_BASE;

function settingOf(env: Partial<Record<keyof ConfigEnv, unknown>>): string | undefined {
  try {
    parseConfig({ ...base, ...env } as ConfigEnv);
    return undefined;
  } catch (error) {
    if (error instanceof ConfigError) return error.setting;
    throw error;
  }
}

describe("parseConfig", () => {
  it("applies documented defaults and freezes the result", () => {
    const config = parseConfig(base);
    expect(config).toMatchObject({
      mode: "production",
      accessTokenTtl: 900,
      refreshTokenTtl: 30 * 86_400,
      sessionIdleTtl: 7 * 86_400,
      refreshGraceSeconds: 10,
      clockToleranceSeconds: 5,
      cookieSameSite: "Strict",
      accessCookie: false,
      upstream: { kind: "url", origin: "https://api.example.com", basePath: "/v1" },
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it("fills development defaults only in development", () => {
    const config = parseConfig({ PORTCULLIS_ENV: "development", UPSTREAM_URL: "http://127.0.0.1:1" } as ConfigEnv);
    expect(config.signingKeys[0]?.kid).toBe("portcullis-dev-key-do-not-deploy");
    expect(settingOf({ TOKEN_ISSUER: undefined })).toBe("TOKEN_ISSUER");
  });

  it.each([
    ["UPSTREAM_URL", { UPSTREAM_URL: "https://user:pw@api.example.com" }],
    ["UPSTREAM_URL", { UPSTREAM_URL: "https://api.example.com/?q=1" }],
    ["ACCESS_TOKEN_TTL", { ACCESS_TOKEN_TTL: "0" }],
    ["ACCESS_TOKEN_TTL", { ACCESS_TOKEN_TTL: "1.5" }],
    ["SESSION_IDLE_TTL", { SESSION_IDLE_TTL: String(31 * 86_400) }],
    ["ACCESS_SECRET", { ACCESS_SECRET: "too-short" }],
    ["SIGNING_KEYS", { ACCESS_SECRET: undefined }],
    ["SIGNING_KEYS", { SIGNING_KEYS: JSON.stringify([{ kid: "a", alg: "HS256", kty: "oct", k: "x" }]) }],
    [
      "SIGNING_KEYS",
      { SIGNING_KEYS: JSON.stringify([{ kid: "a", alg: "EdDSA", kty: "OKP", crv: "Ed25519", x: "x" }]) },
    ],
    ["VERIFY_JWKS", { VERIFY_JWKS: JSON.stringify({ keys: [{ kty: "OKP", alg: "EdDSA", d: "secret" }] }) }],
    ["REVOKE_CLIENT_SECRET", { REVOKE_CLIENT_ID: "app" }],
    ["ACCESS_COOKIE", { ACCESS_COOKIE: "yes" }],
    ["CREDENTIAL_CHECK_PATH", { CREDENTIAL_CHECK_PATH: "login" }],
  ] as const)("names %s when it is wrong", (setting, env) => {
    expect(settingOf(env)).toBe(setting);
  });

  it("never puts a secret's value in the error", () => {
    try {
      parseConfig({ ...base, CREDENTIAL_CHECK_SECRET: "sekrit-but-short" } as ConfigEnv);
      expect.unreachable();
    } catch (error) {
      expect(String((error as Error).message)).not.toContain("sekrit");
    }
  });

  it("reads TOML numbers and booleans as their text, and refuses a list where text belongs", () => {
    expect(parseConfig({ ...base, ACCESS_COOKIE: true, ACCESS_TOKEN_TTL: 60 } as unknown as ConfigEnv)).toMatchObject({
      accessCookie: true,
      accessTokenTtl: 60,
    });
    expect(settingOf({ TOKEN_ISSUER: ["https://auth.example.com"] })).toBe("TOKEN_ISSUER");
  });

  it("needs an upstream only where it forwards", () => {
    expect(settingOf({ UPSTREAM_URL: undefined })).toBe("UPSTREAM_URL");
    const embedded = parseConfig({ ...base, UPSTREAM_URL: undefined } as ConfigEnv, { requireUpstream: false });
    expect(embedded.upstream).toEqual({ kind: "none" });
  });

  it("accepts ROUTES as a structured value or JSON text", () => {
    const rules = [{ path: "/health", public: true }];
    expect(parseConfig({ ...base, ROUTES: rules } as ConfigEnv).routes).toHaveLength(1);
    expect(parseConfig({ ...base, ROUTES: JSON.stringify(rules) } as ConfigEnv).routes).toHaveLength(1);
  });
});
