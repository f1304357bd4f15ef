/**
 * SERVICE_TOKEN_HEADER is checked at start (config/parse-service-token-header.ts): a name
 * of its own, SIGNING_KEYS to mint with, the SERVICE_CLIENTS binding, and only in the
 * standalone gateway; every refusal names the setting.
 */
import { describe, expect, it } from "vitest";
import { checkCodeSettings } from "../../src/config/embedded-config";
import type { ConfigEnv } from "../../src/config/env";
import { ConfigError, checkedConfig, parseConfig } from "../../src/config/parse-config";
import { PRODUCTION_BASE } from "../support/issuer-config";

/** A production config that signs its own tokens (the Ed25519 key of RFC 8037, Appendix A.1). */
const SIGNING = {
  ...PRODUCTION_BASE,
  ACCESS_SECRET: undefined,
  SIGNING_KEYS: JSON.stringify([
    {
      kty: "OKP",
      crv: "Ed25519",
      alg: "EdDSA",
      kid: "unit",
      x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
      d: "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
    },
  ]),
} as unknown as ConfigEnv;

function refusal(env: Record<string, unknown>, base: ConfigEnv = SIGNING): ConfigError {
  try {
    parseConfig({ ...base, ...env } as ConfigEnv);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("accepted");
}

describe("SERVICE_TOKEN_HEADER", () => {
  it("is off unless set", () => {
    expect(parseConfig(SIGNING).serviceTokenHeader).toBeUndefined();
    expect(parseConfig({ ...SIGNING, SERVICE_TOKEN_HEADER: " " } as ConfigEnv).serviceTokenHeader).toBeUndefined();
  });

  it.each([
    ["Portcullis-Service-Token", "portcullis-service-token"],
    ["X-Machine-Token", "x-machine-token"],
    ["Service-Credential", "service-credential"],
  ])("takes %s, read by its key", (name, key) => {
    const config = parseConfig({ ...SIGNING, SERVICE_TOKEN_HEADER: name } as ConfigEnv);
    expect(config.serviceTokenHeader).toEqual({ name, key });
    expect(Object.isFrozen(config.serviceTokenHeader)).toBe(true);
  });

  it.each([
    "Portcullis Service Token",
    "Portcullis_Service_Token",
    "Portcullis.Service.Token",
    "-Token",
    "Token-",
    "Service--Token",
    "Service:Token",
    `X-${"a".repeat(70)}`,
  ])("refuses %j: not a plain header name", (name) => {
    const error = refusal({ SERVICE_TOKEN_HEADER: name });
    expect(error.setting).toBe("SERVICE_TOKEN_HEADER");
    expect(error.detail).toContain("letters, digits and single hyphens");
  });

  it.each([
    "Authorization",
    "authorization",
    "Proxy-Authorization",
    "Cookie",
    "Host",
    "DPoP",
    "X-Auth-Subject",
    "X-Auth-Service-Token",
    "X-Portcullis-Token",
    "X-Forwarded-For",
    "Forwarded",
    "Connection",
    "Upgrade",
    "Transfer-Encoding",
    "CF-Connecting-IP",
    "CF-Access-Client-Secret",
    "Content-Type",
    "Accept",
    "Sec-Fetch-Site",
    "Origin",
    "X-Request-Id",
    "X-HTTP-Method-Override",
    "Portcullis-Assertion",
    "Portcullis-Degraded",
  ])("refuses %s: a header with a meaning already", (name) => {
    const error = refusal({ SERVICE_TOKEN_HEADER: name });
    expect(error.setting).toBe("SERVICE_TOKEN_HEADER");
    expect(error.detail).toMatch(/already give a meaning to|reads, sets or drops itself/);
    expect(error.detail).toContain("Portcullis-Service-Token");
  });

  it("needs SIGNING_KEYS: the header is exchanged for a token of the gateway's own", () => {
    const error = refusal({ SERVICE_TOKEN_HEADER: "Portcullis-Service-Token" }, PRODUCTION_BASE);
    expect(error.setting).toBe("SERVICE_TOKEN_HEADER");
    expect(error.detail).toContain("needs SIGNING_KEYS");
  });

  it("needs the SERVICE_CLIENTS binding, named in the error with how to declare it", () => {
    const env = { ...SIGNING, SERVICE_TOKEN_HEADER: "Portcullis-Service-Token", RATE_LIMITS: "false" } as ConfigEnv;
    const bindings = {
      REVOKED: { get() {} },
      SESSIONS: { idFromName() {} },
      REVOCATIONS: { idFromName() {} },
    };
    const check = () => checkedConfig({ ...env, ...bindings } as ConfigEnv, parseConfig(env));
    expect(check).toThrow(ConfigError);
    try {
      check();
    } catch (error) {
      expect((error as ConfigError).setting).toBe("SERVICE_TOKEN_HEADER");
      expect((error as ConfigError).detail).toContain('name = "SERVICE_CLIENTS"');
    }
    const withClients = { ...env, ...bindings, SERVICE_CLIENTS: { idFromName() {} } };
    expect(() => checkedConfig(withClients as ConfigEnv, parseConfig(env))).not.toThrow();
  });

  it("is refused in portcullis/hono, whose middleware does not read it", () => {
    expect(() => checkCodeSettings({ SERVICE_TOKEN_HEADER: "Portcullis-Service-Token" })).toThrow(
      /SERVICE_TOKEN_HEADER: is served by the standalone gateway only/,
    );
  });
});
