/**
 * The one rule for cookie-authenticated requests from other pages (src/http/origin-check.ts,
 * SECURITY.md "Cookies and other sites"), row by row: which requests need a trusted origin,
 * and what counts as one.
 */
import { describe, expect, it } from "vitest";
import type { ConfigEnv } from "../../src/config/env";
import { ConfigError, parseConfig } from "../../src/config/parse-config";
import { GatewayError } from "../../src/errors/gateway-error";
import { assertTrustedOrigin, needsTrustedOrigin } from "../../src/http/origin-check";

const APP = "https://app.example.com";
const GATEWAY = "https://gateway.example.com";
const env = {
  PORTCULLIS_ENV: "production",
  UPSTREAM_URL: "https://api.example.com",
  TOKEN_ISSUER: GATEWAY,
  TOKEN_AUDIENCE: "api",
  ACCESS_SECRET: "a-shared-secret-that-is-long-enough-0123",
  ALLOWED_ORIGINS: JSON.stringify([APP]),
} as unknown as ConfigEnv;
const config = parseConfig(env);

function verdict(method: string, headers: Record<string, string>, webSocket = false): "pass" | string {
  try {
    assertTrustedOrigin(config, new Request(`${GATEWAY}/ws`, { method, headers }), webSocket);
    return "pass";
  } catch (error) {
    if (error instanceof GatewayError) return error.code;
    throw error;
  }
}

describe("which cookie-authenticated requests need a trusted origin", () => {
  it.each([
    ["GET", false, false],
    ["HEAD", false, false],
    ["OPTIONS", false, false],
    ["POST", false, true],
    ["DELETE", false, true],
    ["PATCH", false, true],
    ["GET", true, true],
  ])("%s (WebSocket: %s): %s", (method, webSocket, needed) => {
    expect(needsTrustedOrigin(method, webSocket)).toBe(needed);
  });
});

describe("what counts as a trusted origin for a WebSocket handshake", () => {
  it.each([
    ["the gateway's own origin", { origin: GATEWAY }, "pass"],
    ["an allowed origin", { origin: APP }, "pass"],
    ["a sibling subdomain", { origin: "https://sub.gateway.example.com" }, "origin_forbidden"],
    ["another port of the same host", { origin: `${GATEWAY}:8443` }, "origin_forbidden"],
    ["another site", { origin: "https://evil.example" }, "origin_forbidden"],
    ["Origin: null", { origin: "null" }, "origin_forbidden"],
    ["no Origin, Sec-Fetch-Site: cross-site", { "sec-fetch-site": "cross-site" }, "origin_forbidden"],
    ["no Origin, Sec-Fetch-Site: same-site", { "sec-fetch-site": "same-site" }, "origin_forbidden"],
    ["no Origin, Sec-Fetch-Site: same-origin", { "sec-fetch-site": "same-origin" }, "pass"],
    ["neither header (no browser sent it)", {}, "pass"],
  ])("%s: %s", (_name, headers, expected) => {
    expect(verdict("GET", headers, true)).toBe(expected);
  });

  it("lets a plain GET from anywhere through: its answer is unreadable without CORS", () => {
    expect(verdict("GET", { origin: "https://evil.example" })).toBe("pass");
  });
});

describe('COOKIE_SAMESITE = "None"', () => {
  it("refuses to start without ALLOWED_ORIGINS, saying why", () => {
    const parse = () => parseConfig({ ...env, ALLOWED_ORIGINS: undefined, COOKIE_SAMESITE: "None" } as ConfigEnv);
    expect(parse).toThrow(ConfigError);
    expect(parse).toThrow(/ALLOWED_ORIGINS/);
    expect(parseConfig({ ...env, COOKIE_SAMESITE: "None" } as ConfigEnv).cookieSameSite).toBe("None");
  });
});
