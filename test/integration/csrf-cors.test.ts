/**
 * Requests a browser authenticates with our cookies must come from an allowed origin
 * (CSRF), refused with 403 before anything changes. CORS with credentials only for the
 * configured origins, never "*"; preflights answered at the gateway.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Gateway, startGateway } from "../support/gateway";
import { login, REFRESH_COOKIE, refreshCookieHeader, setCookie } from "../support/session-helpers";
import { mintToken } from "../support/tokens";

const APP = "https://app.example.test";
const EVIL = "https://evil.example.test";
let gateway: Gateway;

beforeAll(async () => {
  gateway = await startGateway({ vars: { ALLOWED_ORIGINS: JSON.stringify([APP]) } });
});
afterAll(() => gateway.close());

describe("CSRF: cookie-authenticated state changes", () => {
  it.each([
    ["a foreign Origin", { origin: EVIL }],
    ["Origin: null", { origin: "null" }],
    ["Sec-Fetch-Site: cross-site", { "sec-fetch-site": "cross-site" }],
    ["Sec-Fetch-Site: same-site", { "sec-fetch-site": "same-site" }],
  ])("refuses a cookie refresh from %s with 403, rotating nothing", async (_name, headers) => {
    const session = await login(gateway);
    const refused = await gateway.fetch("/auth/refresh", {
      method: "POST",
      headers: { ...headers, cookie: refreshCookieHeader(session.refreshToken) },
    });
    expect(refused.status).toBe(403);
    expect(refused.headers.getSetCookie()).toEqual([]);
    // The refresh token was not spent.
    const allowed = await gateway.fetch("/auth/refresh", {
      method: "POST",
      headers: { origin: APP, cookie: refreshCookieHeader(session.refreshToken) },
    });
    expect(allowed.status).toBe(200);
  });

  it("accepts the gateway's own origin and same-origin fetches", async () => {
    const session = await login(gateway);
    const own = await gateway.fetch("/auth/refresh", {
      method: "POST",
      headers: { origin: new URL(gateway.url).origin, cookie: refreshCookieHeader(session.refreshToken) },
    });
    expect(own.status).toBe(200);
    const next = setCookie(own, REFRESH_COOKIE)?.value ?? "";
    const sameOrigin = await gateway.fetch("/auth/refresh", {
      method: "POST",
      headers: { "sec-fetch-site": "same-origin", cookie: refreshCookieHeader(next) },
    });
    expect(sameOrigin.status).toBe(200);
  });

  it("refuses a cross-site logout, leaving the session alive", async () => {
    const session = await login(gateway);
    const refused = await gateway.fetch("/auth/logout", {
      method: "POST",
      headers: { origin: EVIL, cookie: refreshCookieHeader(session.refreshToken) },
    });
    expect(refused.status).toBe(403);
    const call = await gateway.fetch("/api/x", { headers: { authorization: `Bearer ${session.accessToken}` } });
    expect(call.status).toBe(200);
  });

  it("refuses a cross-site login (login CSRF)", async () => {
    const response = await gateway.fetch("/auth/login", {
      method: "POST",
      headers: { origin: EVIL, "content-type": "application/json" },
      body: JSON.stringify({ username: "alice", password: "correct horse" }),
    });
    expect(response.status).toBe(403);
  });

  it("refuses a proxied POST authenticated by the access cookie from a foreign origin, before the upstream", async () => {
    const token = await mintToken(gateway.key);
    const before = gateway.upstream.proxied().length;
    const refused = await gateway.fetch("/api/transfer", {
      method: "POST",
      headers: { origin: EVIL, cookie: `__Host-portcullis-access=${token}` },
      body: "amount=100",
    });
    expect(refused.status).toBe(403);
    expect(gateway.upstream.proxied().length).toBe(before);
    // A GET with the cookie is not a state change; a POST with a Bearer header cannot be forged cross-site.
    expect(
      (await gateway.fetch("/api/x", { headers: { origin: EVIL, cookie: `__Host-portcullis-access=${token}` } }))
        .status,
    ).toBe(200);
    expect(
      (await gateway.fetch("/api/x", { method: "POST", headers: { origin: EVIL, authorization: `Bearer ${token}` } }))
        .status,
    ).toBe(200);
  });
});

describe("CORS", () => {
  it("answers a preflight from an allowed origin at the gateway, with credentials", async () => {
    const before = gateway.upstream.received.length;
    const response = await gateway.fetch("/api/x", {
      method: "OPTIONS",
      headers: {
        origin: APP,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
      },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe(APP);
    expect(response.headers.get("access-control-allow-credentials")).toBe("true");
    expect(response.headers.get("access-control-allow-methods")).toContain("POST");
    expect(response.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("authorization");
    expect(response.headers.get("vary")).toContain("Origin");
    expect(gateway.upstream.received.length).toBe(before);
  });

  it("gives a foreign origin no CORS grant", async () => {
    const response = await gateway.fetch("/api/x", {
      method: "OPTIONS",
      headers: { origin: EVIL, "access-control-request-method": "POST" },
    });
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("exposes the refreshed token header to allowed origins and never uses a wildcard", async () => {
    const response = await gateway.fetch("/api/x", {
      headers: { origin: APP, authorization: `Bearer ${await mintToken(gateway.key)}` },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("access-control-allow-origin")).toBe(APP);
    expect(response.headers.get("access-control-expose-headers")).toContain("Authorization");
    const refused = await gateway.fetch("/api/x", { headers: { origin: APP } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get("access-control-allow-origin")).toBe(APP);
    expect(refused.headers.get("access-control-expose-headers")).toContain("WWW-Authenticate");
  });
});
