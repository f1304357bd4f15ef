import { describe, expect, it } from "vitest";
import { redirectUriFor } from "../../src/auth/oidc-login";
import { DEV_OIDC_CLIENT_SECRET } from "../../src/config/dev-keys";
import type { ConfigEnv } from "../../src/config/env";
import { ConfigError, parseConfig } from "../../src/config/parse-config";
import { seal, unsealWithAny } from "../../src/oidc/sealing";

const SECRET = "a-client-secret-that-is-long-enough-0123";
const base = {
  PORTCULLIS_ENV: "production",
  UPSTREAM_URL: "https://api.example.com",
  TOKEN_ISSUER: "https://auth.example.com",
  TOKEN_AUDIENCE: "example-api",
  ACCESS_SECRET: "a-shared-secret-that-is-long-enough-0123",
  IDP_LOGOUT_INDEX: {},
  OIDC_ISSUER: "https://idp.example.com/tenant",
  OIDC_CLIENT_ID: "portcullis",
  OIDC_CLIENT_SECRET: SECRET,
  OIDC_SEALING_SECRET: "a-sealing-secret-that-is-long-enough-01",
} as unknown as ConfigEnv;

function refusal(env: Partial<Record<keyof ConfigEnv, unknown>>): { setting: string; message: string } | undefined {
  try {
    parseConfig({ ...base, ...env } as ConfigEnv);
    return undefined;
  } catch (error) {
    if (error instanceof ConfigError) return { setting: error.setting, message: error.message };
    throw error;
  }
}

describe("OIDC settings", () => {
  it("take a previous sealing secret, so the sealing secret can be rotated", async () => {
    const old = "the-sealing-secret-being-replaced-0123456";
    const rotating = parseConfig({ ...base, OIDC_SEALING_SECRET_PREVIOUS: old } as ConfigEnv).oidc;
    expect(rotating?.sealingSecrets).toEqual({ current: "a-sealing-secret-that-is-long-enough-01", previous: old });
    expect(parseConfig(base).oidc?.sealingSecrets.previous).toBeUndefined();
    expect(refusal({ OIDC_SEALING_SECRET_PREVIOUS: "short" })?.setting).toBe("OIDC_SEALING_SECRET_PREVIOUS");
    // Equal to the current one is a rotation's first step (each secret deploys on its own): it adds nothing.
    const same = parseConfig({ ...base, OIDC_SEALING_SECRET_PREVIOUS: "a-sealing-secret-that-is-long-enough-01" });
    expect(same.oidc?.sealingSecrets.previous).toBeUndefined();

    // A seal of the old secret opens during the rotation, and not after it; new seals use the new one.
    const sealedBefore = await seal(old, "idp-tokens", "sid-1", { token: "t" });
    const secrets = rotating?.sealingSecrets ?? { current: "", previous: undefined };
    expect(await unsealWithAny(secrets, "idp-tokens", "sid-1", sealedBefore)).toEqual({ token: "t" });
    expect(
      await unsealWithAny({ ...secrets, previous: undefined }, "idp-tokens", "sid-1", sealedBefore),
    ).toBeUndefined();
    expect(await unsealWithAny(secrets, "idp-tokens", "sid-2", sealedBefore)).toBeUndefined();
    const sealedNow = await seal(secrets.current, "idp-tokens", "sid-1", { token: "u" });
    expect(
      await unsealWithAny({ current: secrets.current, previous: undefined }, "idp-tokens", "sid-1", sealedNow),
    ).toEqual({
      token: "u",
    });
  });

  it("are off without OIDC_ISSUER, and default sensibly with it", () => {
    expect(parseConfig({ ...base, OIDC_ISSUER: undefined } as ConfigEnv).oidc).toBeUndefined();
    expect(parseConfig(base).oidc).toMatchObject({
      issuer: "https://idp.example.com/tenant",
      allowInsecureRequests: false,
      scopes: ["openid", "profile", "email", "offline_access"],
      subjectPrefix: "oidc|",
      forwardIdpToken: false,
      refreshSkewSeconds: 30,
      loginRedirect: true,
      authorizationParams: {},
    });
    const google = parseConfig({
      ...base,
      OIDC_AUTHORIZATION_PARAMS: "access_type=offline&prompt=consent",
    } as ConfigEnv);
    expect(google.oidc?.authorizationParams).toEqual({ access_type: "offline", prompt: "consent" });
  });

  it("refuse an http: issuer in production and allow it, loudly named, in development", () => {
    expect(refusal({ OIDC_ISSUER: "http://127.0.0.1:9000" })?.setting).toBe("OIDC_ISSUER");
    const dev = parseConfig({
      ...base,
      PORTCULLIS_ENV: "development",
      OIDC_ISSUER: "http://127.0.0.1:9000",
    } as ConfigEnv);
    expect(dev.oidc?.allowInsecureRequests).toBe(true);
  });

  it("refuse an http: redirect URI in production, configured or derived from the origin, naming OIDC_REDIRECT_URI", () => {
    expect(refusal({ OIDC_REDIRECT_URI: "http://gateway.example.com/auth/oidc/callback" })?.setting).toBe(
      "OIDC_REDIRECT_URI",
    );
    const production = parseConfig(base);
    const oidc = production.oidc;
    if (oidc === undefined) throw new Error("OIDC is configured in base");
    const login = (origin: string) => new URL(`${origin}/auth/oidc/login?return_to=/`);
    let derived: unknown;
    try {
      redirectUriFor(oidc, "production", login("http://gateway.example.com"));
    } catch (error) {
      derived = error;
    }
    expect(derived).toBeInstanceOf(ConfigError);
    expect((derived as ConfigError).setting).toBe("OIDC_REDIRECT_URI");
    expect((derived as ConfigError).message).toContain("http://gateway.example.com");
    expect(redirectUriFor(oidc, "production", login("https://gateway.example.com"))).toBe(
      "https://gateway.example.com/auth/oidc/callback",
    );
    // An explicit https one is used whatever origin the request came in on.
    const fixed = parseConfig({ ...base, OIDC_REDIRECT_URI: "https://gateway.example.com/auth/oidc/callback" });
    expect(redirectUriFor(fixed.oidc ?? oidc, "production", login("http://127.0.0.1:8787"))).toBe(
      "https://gateway.example.com/auth/oidc/callback",
    );
    // Development takes the local http origin.
    expect(redirectUriFor(oidc, "development", login("http://localhost:8787"))).toBe(
      "http://localhost:8787/auth/oidc/callback",
    );
  });

  it("name the missing or wrong setting, never a secret's value", () => {
    expect(refusal({ OIDC_CLIENT_ID: undefined })?.setting).toBe("OIDC_CLIENT_ID");
    expect(refusal({ OIDC_CLIENT_SECRET: undefined })?.setting).toBe("OIDC_CLIENT_SECRET");
    expect(refusal({ OIDC_SEALING_SECRET: "short" })?.setting).toBe("OIDC_SEALING_SECRET");
    expect(refusal({ OIDC_SCOPES: "profile email" })?.setting).toBe("OIDC_SCOPES");
    expect(refusal({ OIDC_ISSUER: "idp.example.com" })?.setting).toBe("OIDC_ISSUER");
    expect(refusal({ OIDC_ISSUER: "https://idp.example.com/?x=1" })?.setting).toBe("OIDC_ISSUER");
    expect(refusal({ OIDC_ROLES_CLAIM: "groups and more" })?.setting).toBe("OIDC_ROLES_CLAIM");
    expect(refusal({ OIDC_FORWARD_IDP_TOKEN: "yes" })?.setting).toBe("OIDC_FORWARD_IDP_TOKEN");
    expect(refusal({ IDP_LOGOUT_INDEX: undefined })?.setting).toBe("IDP_LOGOUT_INDEX");
    expect(refusal({ OIDC_AUTHORIZATION_PARAMS: "prompt=consent&state=fixed" })?.setting).toBe(
      "OIDC_AUTHORIZATION_PARAMS",
    );
    expect(refusal({ OIDC_CLIENT_PRIVATE_KEY: JSON.stringify({ kty: "EC", kid: "k", alg: "ES256" }) })?.setting).toBe(
      "OIDC_CLIENT_PRIVATE_KEY",
    );
    expect(
      refusal({ OIDC_CLIENT_PRIVATE_KEY: JSON.stringify({ kty: "oct", k: "x", d: "y", kid: "k", alg: "HS256" }) })
        ?.setting,
    ).toBe("OIDC_CLIENT_PRIVATE_KEY");
    const keyOnly = parseConfig({
      ...base,
      OIDC_CLIENT_SECRET: undefined,
      OIDC_CLIENT_PRIVATE_KEY: JSON.stringify({
        kty: "EC",
        crv: "P-256",
        x: "x",
        y: "y",
        d: "d",
        kid: "k",
        alg: "ES256",
      }),
    } as ConfigEnv);
    expect(keyOnly.oidc?.clientSecret).toBeUndefined();
    expect(keyOnly.oidc?.clientPrivateKey?.kid).toBe("k");
    const secretRefusal = refusal({ OIDC_CLIENT_SECRET: DEV_OIDC_CLIENT_SECRET });
    expect(secretRefusal?.setting).toBe("OIDC_CLIENT_SECRET");
    expect(secretRefusal?.message).not.toContain(DEV_OIDC_CLIENT_SECRET);
  });

  it("refuse a route rule with an unknown unauthenticated answer", () => {
    expect(refusal({ ROUTES: JSON.stringify([{ path: "/x/*", unauthenticated: "redirect" }]) })?.setting).toBe(
      "ROUTES",
    );
  });
});
