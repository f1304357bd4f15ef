/**
 * Cross-site WebSocket hijacking: a handshake authenticated by the gateway's access cookie
 * passes only from the gateway's own origin or ALLOWED_ORIGINS, with any cookie setting.
 * Refused with 403 problem+json before the upstream hears of it, logged as a security
 * event, counted. A handshake the client authenticates itself (Authorization) is not a
 * cookie riding along and is not affected. Against a real WebSocket upstream on loopback.
 */
import type http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Gateway, startGateway } from "../support/gateway";
import { metricsRecorderOptions, waitForPoints } from "../support/metrics";
import { rawRequest } from "../support/oidc-gateway";
import { mintToken } from "../support/tokens";
import { acceptWebSockets, openWebSocket } from "../support/websocket";

const APP = "https://app.example.test";
const SIBLING = "https://sub.app.example.test";
const EVIL = "https://evil.example.test";
const ACCESS_COOKIE = "__Host-portcullis-access";

function settingsOf(sameSite: string) {
  return { ACCESS_COOKIE: "true", COOKIE_SAMESITE: sameSite, ALLOWED_ORIGINS: JSON.stringify([APP]) };
}

describe.each(["Strict", "Lax", "None"])("COOKIE_SAMESITE = %s", (sameSite) => {
  let gateway: Gateway;
  let cookie: string;
  const upgrades: http.IncomingHttpHeaders[] = [];

  beforeAll(async () => {
    gateway = await startGateway({ vars: settingsOf(sameSite), ...metricsRecorderOptions() });
    acceptWebSockets(gateway.upstream.server, upgrades);
    cookie = `${ACCESS_COOKIE}=${await mintToken(gateway.key, { claims: { sub: "user-7" } })}`;
  });
  afterAll(() => gateway.close());

  /** Opens a socket through the gateway; says whether the upstream was asked. */
  async function handshake(headers: Record<string, string>) {
    const before = upgrades.length;
    const socket = await openWebSocket(`${gateway.url}/ws`, headers);
    const reached = upgrades.length > before;
    socket.destroy();
    return { status: socket.status, reached };
  }

  it.each([
    ["the gateway's own origin", () => new URL(gateway.url).origin],
    ["an allowed origin", () => APP],
  ])("lets a cookie-authenticated handshake from %s through", async (_name, origin) => {
    expect(await handshake({ cookie, origin: origin() })).toEqual({ status: 101, reached: true });
  });

  it.each([
    ["a sibling subdomain (same site)", SIBLING],
    ["another site", EVIL],
    ["Origin: null (a sandboxed frame)", "null"],
  ])("refuses a cookie-authenticated handshake from %s, before the upstream hears of it", async (_name, origin) => {
    expect(await handshake({ cookie, origin })).toEqual({ status: 403, reached: false });
  });

  it("refuses a handshake that says it is cross-site without an Origin", async () => {
    expect(await handshake({ cookie, "sec-fetch-site": "cross-site" })).toEqual({ status: 403, reached: false });
  });

  it("lets a handshake without Origin or Sec-Fetch-Site through: no browser sent it", async () => {
    expect(await handshake({ cookie })).toEqual({ status: 101, reached: true });
  });

  it("does not touch a handshake the client authenticated itself", async () => {
    const token = await mintToken(gateway.key, { claims: { sub: "user-7" } });
    expect(await handshake({ authorization: `Bearer ${token}`, origin: EVIL })).toEqual({
      status: 101,
      reached: true,
    });
  });
});

describe("a refused handshake", () => {
  let gateway: Gateway;
  beforeAll(async () => {
    gateway = await startGateway({ vars: settingsOf("None"), ...metricsRecorderOptions() });
    acceptWebSockets(gateway.upstream.server, []);
  });
  afterAll(() => gateway.close());

  it("is answered with the problem body, logged as a security event and counted", async () => {
    const cookie = `${ACCESS_COOKIE}=${await mintToken(gateway.key)}`;
    // node:http: fetch refuses to send an Upgrade header.
    const response = await rawRequest(`${gateway.url}/ws`, {
      headers: { cookie, origin: EVIL, upgrade: "websocket", connection: "Upgrade", "sec-websocket-version": "13" },
    });
    expect(response.status).toBe(403);
    expect(response.headers["content-type"]).toBe("application/problem+json");
    expect(JSON.parse(response.body).title).toBe("Cross-site request refused");
    const [line] = await gateway.waitForLog((entry) => entry.includes('"event":"cross_site_refused"'));
    expect(JSON.parse(line ?? "{}")).toMatchObject({ level: "warn", security: true, status: 403 });
    expect(line).toContain(EVIL);
    expect(line).not.toContain(cookie.split("=")[1]);
    await waitForPoints(gateway, [["cross_site_refused", "websocket"]]);
  });
});

describe('COOKIE_SAMESITE = "None"', () => {
  it("refuses to start without ALLOWED_ORIGINS, saying why", async () => {
    const gateway = await startGateway({ vars: { COOKIE_SAMESITE: "None" } });
    try {
      const response = await gateway.fetch("/api/x");
      expect(response.status).toBe(503);
      const [line] = await gateway.waitForLog((entry) => entry.includes('"event":"config_invalid"'));
      expect(line).toContain('"setting":"COOKIE_SAMESITE"');
      expect(line).toContain("ALLOWED_ORIGINS");
    } finally {
      await gateway.close();
    }
  });
});

describe("HTML the gateway makes", () => {
  it("cannot be framed, sniffed or leak a referrer", async () => {
    const gateway = await startGateway({
      vars: {
        OIDC_ISSUER: "https://idp.invalid",
        OIDC_CLIENT_ID: "x",
        OIDC_CLIENT_SECRET: "websocket-origin-test-client-secret-0123",
        OIDC_SEALING_SECRET: "websocket-origin-test-sealing-secret-0123",
      },
    });
    try {
      // A navigation to the OIDC callback without a login in progress: the HTML error page.
      // node:http: fetch overwrites Sec-Fetch-Mode.
      const response = await rawRequest(`${gateway.url}/auth/oidc/callback?state=x&code=y`, {
        headers: { "sec-fetch-mode": "navigate", accept: "text/html" },
      });
      // The callback's own refusal (no login in progress), not a configuration error.
      expect(response.status).toBe(400);
      expect(response.headers["content-type"]).toBe("text/html; charset=utf-8");
      expect(response.headers["content-security-policy"]).toContain("frame-ancestors 'none'");
      expect(response.headers["x-frame-options"]).toBe("DENY");
      expect(response.headers["x-content-type-options"]).toBe("nosniff");
      expect(response.headers["referrer-policy"]).toBe("no-referrer");
    } finally {
      await gateway.close();
    }
  });
});
