/**
 * Failing dependencies, each injected for real, and the documented answer (SECURITY.md):
 * anything that decides access fails closed; what can be served safely still is; and the
 * gateway recovers when the dependency does.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { faultInjectionOptions, setFaults } from "../support/faults";
import { type Gateway, startGateway } from "../support/gateway";
import { expiredTokenFor, login, refreshCookieHeader } from "../support/session-helpers";
import { mintToken } from "../support/tokens";

let gateway: Gateway;

beforeAll(async () => {
  gateway = await startGateway(faultInjectionOptions());
});
afterAll(() => gateway.close());

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

describe("the revocation store (KV) is down", () => {
  it("fails closed for protected requests, keeps public routes up, and recovers", async () => {
    const token = await mintToken(gateway.key);
    expect((await gateway.fetch("/api/x", bearer(token))).status).toBe(200);

    await setFaults(gateway, { kv: true });
    const before = gateway.upstream.proxied().length;
    const refused = await gateway.fetch("/api/x", bearer(token));
    expect(refused.status).toBe(503);
    expect(refused.headers.get("content-type")).toBe("application/problem+json");
    expect(gateway.upstream.proxied().length).toBe(before);
    expect((await gateway.fetch("/public/page")).status).toBe(200);

    await setFaults(gateway, { kv: false });
    expect((await gateway.fetch("/api/x", bearer(token))).status).toBe(200);
  });

  it("refuses a transparent refresh with 503, and the racer's retry within the grace window succeeds", async () => {
    const session = await login(gateway);
    const expired = await expiredTokenFor(gateway, session);
    const request = {
      headers: { authorization: `Bearer ${expired}`, cookie: refreshCookieHeader(session.refreshToken) },
    };
    await setFaults(gateway, { kv: true });
    expect((await gateway.fetch("/api/x", request)).status).toBe(503);
    await setFaults(gateway, { kv: false });
    const retried = await gateway.fetch("/api/x", request);
    expect(retried.status).toBe(200);
    expect(retried.headers.get("authorization")).toMatch(/^Bearer /);
  });
});

describe("the session store (Durable Objects) is down", () => {
  it("refuses login and refresh with 503, keeps valid access tokens working, and recovers", async () => {
    const session = await login(gateway);
    await setFaults(gateway, { sessions: true });

    const loginAttempt = await gateway.fetch("/auth/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "alice", password: "correct horse" }),
    });
    expect(loginAttempt.status).toBe(503);
    const refresh = await gateway.fetch("/auth/refresh", {
      method: "POST",
      headers: { cookie: refreshCookieHeader(session.refreshToken) },
    });
    expect(refresh.status).toBe(503);
    // A 503 is not a dead session: the cookie is kept for the retry.
    expect(refresh.headers.getSetCookie()).toEqual([]);
    expect((await gateway.fetch("/api/x", bearer(session.accessToken))).status).toBe(200);

    await setFaults(gateway, { sessions: false });
    const recovered = await gateway.fetch("/auth/refresh", {
      method: "POST",
      headers: { cookie: refreshCookieHeader(session.refreshToken) },
    });
    expect(recovered.status).toBe(200);
  });
});

describe("the upstream's credential check misbehaves", () => {
  it.each([
    ["answers 500", 500, '{"error":"boom"}'],
    ["answers garbage", 200, "<html>"],
    ["names a subject that cannot travel in a header", 200, '{"sub":" user-admin"}'],
    ["leaves out the subject", 200, '{"scope":"read"}'],
  ])("answers login with 503 when it %s, issuing nothing", async (_name, status, body) => {
    const upstreamGateway = await startGateway({ upstream: gateway.upstream });
    gateway.upstream.route("/portcullis/credential-check", (_request, response) => {
      response.writeHead(status, { "content-type": "application/json" }).end(body);
    });
    try {
      const response = await upstreamGateway.fetch("/auth/login", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username: "alice", password: "correct horse" }),
      });
      expect(response.status).toBe(503);
      expect(response.headers.getSetCookie()).toEqual([]);
    } finally {
      gateway.upstream.unroute("/portcullis/credential-check");
      await upstreamGateway.close();
    }
  });
});

describe("the upstream resets connections", () => {
  it("answers 502 problem+json", async () => {
    gateway.upstream.route("/reset", (request) => {
      request.socket.destroy();
    });
    const response = await gateway.fetch("/reset", bearer(await mintToken(gateway.key)));
    expect(response.status).toBe(502);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
  });
});
