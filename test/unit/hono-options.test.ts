/**
 * portcullis/hono checks its options when the factories run, at the Worker's startup:
 * a mistake is a ConfigError naming the option or setting, before any request.
 */
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/parse-config";
import { portcullis, requireRoles, requireScopes } from "../../src/hono/middleware";
import { mountAuthEndpoints } from "../../src/hono/mount";

function settingNamed(build: () => unknown): string | undefined {
  try {
    build();
    return undefined;
  } catch (error) {
    if (error instanceof ConfigError) return error.setting;
    throw error;
  }
}

describe("portcullis() and mountAuthEndpoints() options", () => {
  it.each([
    ["ACCESS_TOKEN_TTL", { settings: { ACCESS_TOKEN_TTL: 0 } }],
    ["COOKIE_SAMESITE", { settings: { COOKIE_SAMESITE: "sometimes" } }],
    ["JWKS_URL", { settings: { JWKS_URL: "not a url" } }],
    ["ROUTES", { settings: { ROUTES: "[" } }],
    ["TOKEN_ISSUR", { settings: { TOKEN_ISSUR: "https://typo.example" } }],
    ["settings", { settings: "TOKEN_ISSUER=x" }],
    ["checkCredentials", { checkCredentials: "alice:wonderland" }],
  ])("names %s when it is wrong", (setting, options) => {
    expect(settingNamed(() => portcullis(options as never))).toBe(setting);
    expect(settingNamed(() => mountAuthEndpoints(new Hono(), options as never))).toBe(setting);
  });

  it("names the setting a mistaken name in code is nearest, and is silent on one near nothing", () => {
    const message = (settings: object) => {
      try {
        portcullis({ settings } as never);
      } catch (error) {
        return (error as Error).message;
      }
      return "accepted";
    };
    expect(message({ ACESS_TOKEN_TTL: 300 })).toContain("ACESS_TOKEN_TTL: is not a Portcullis setting");
    expect(message({ ACESS_TOKEN_TTL: 300 })).toContain("did you mean ACCESS_TOKEN_TTL?");
    expect(message({ access_token_ttl: 300 })).toContain("access_token_ttl: is not a Portcullis setting");
    expect(message({ MY_APP_FLAG: true })).not.toContain("did you mean");
  });

  it("refuses a secret given in code, without echoing it", () => {
    const secret = "0123456789abcdef0123456789abcdef-do-not-echo";
    let error: unknown;
    try {
      portcullis({ settings: { ACCESS_SECRET: secret } });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).setting).toBe("ACCESS_SECRET");
    expect((error as Error).message).toContain("wrangler secret put");
    expect((error as Error).message).not.toContain(secret);
  });

  it("accepts settings that only the env completes (issuer, audience and keys come later)", () => {
    expect(
      settingNamed(() => portcullis({ settings: { ACCESS_TOKEN_TTL: 300, ACCESS_COOKIE: true } })),
    ).toBeUndefined();
    expect(settingNamed(() => portcullis())).toBeUndefined();
  });

  it("requireScopes and requireRoles need at least one name", () => {
    expect(() => requireScopes()).toThrow(TypeError);
    expect(() => requireRoles("")).toThrow(TypeError);
    expect(requireScopes("admin")).toBeTypeOf("function");
  });
});
