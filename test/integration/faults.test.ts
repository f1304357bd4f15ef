/**
 * Failing dependencies, each injected for real, and the documented answer (SECURITY.md):
 * anything that decides access fails closed; what can be served safely still is; and the
 * gateway recovers when the dependency does.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { faultInjectionOptions, queueSessionFailures, setFaults } from "../support/faults";
import { type Gateway, startGateway } from "../support/gateway";
import { expiredTokenFor, login, REFRESH_COOKIE, refreshCookieHeader, setCookie } from "../support/session-helpers";
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

describe("a session object fails once with an error the platform marks retryable", () => {
  it("still logs in and refreshes transparently: the call is retried, not answered 503", async () => {
    const before = await queueSessionFailures(gateway, ["retryable"]);
    const session = await login(gateway);
    const afterLogin = await queueSessionFailures(gateway, ["retryable"]);
    expect(afterLogin.thrown.retryable).toBe(before.thrown.retryable + 1);

    const expired = await expiredTokenFor(gateway, session);
    const response = await gateway.fetch("/api/x", {
      headers: { authorization: `Bearer ${expired}`, cookie: refreshCookieHeader(session.refreshToken) },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("authorization")).toMatch(/^Bearer /);
    const afterRefresh = await queueSessionFailures(gateway, []);
    expect(afterRefresh.thrown.retryable).toBe(before.thrown.retryable + 2);
    expect(afterRefresh.queued).toBe(0);
  });

  it("does not retry an overloaded object: the refresh answers 503 and keeps the cookie", async () => {
    const session = await login(gateway);
    const before = await queueSessionFailures(gateway, ["overloaded", "overloaded"]);
    const refresh = await gateway.fetch("/auth/refresh", {
      method: "POST",
      headers: { cookie: refreshCookieHeader(session.refreshToken) },
    });
    expect(refresh.status).toBe(503);
    expect(refresh.headers.getSetCookie()).toEqual([]);
    const after = await queueSessionFailures(gateway, []);
    // One call, no retry: the second queued failure is still waiting.
    expect(after.queued).toBe(1);
    expect(after.thrown.overloaded).toBe(before.thrown.overloaded + 1);
    await queueSessionFailures(gateway, [], { clear: true });
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

describe("the revocation ledger (Durable Object) is down", () => {
  it("answers a transparent refresh 503 without forwarding or clearing the cookie; the retry gets the rotated token", async () => {
    const session = await login(gateway);
    const expired = await expiredTokenFor(gateway, session);
    const request = {
      headers: { authorization: `Bearer ${expired}`, cookie: refreshCookieHeader(session.refreshToken) },
    };
    await setFaults(gateway, { ledger: true });
    const before = gateway.upstream.proxied().length;
    const failed = await gateway.fetch("/api/x", request);
    expect(failed.status).toBe(503);
    // The session object has rotated, but the rotation is not recorded: nothing is forwarded,
    // and the answer is not a dead session, so the client keeps its cookie for the retry.
    expect(gateway.upstream.proxied().length).toBe(before);
    expect(failed.headers.getSetCookie()).toEqual([]);

    await setFaults(gateway, { ledger: false });
    const retried = await gateway.fetch("/api/x", request);
    expect(retried.status).toBe(200);
    const rotated = setCookie(retried, REFRESH_COOKIE)?.value ?? "";
    expect(rotated).not.toBe(session.refreshToken);
    const next = await gateway.fetch("/auth/refresh", {
      method: "POST",
      headers: { cookie: refreshCookieHeader(rotated) },
    });
    expect(next.status).toBe(200);
  });
});

describe("KV's daily limits are used up (the free plan's 1,000 writes, 100,000 reads)", () => {
  it("keeps rotating sessions when writes run out; a logout still bites here and its answer says what ran out", async () => {
    const session = await login(gateway);
    const leaving = await login(gateway);
    await setFaults(gateway, { kvWriteLimit: true });
    try {
      // A rotation writes no KV: refreshing goes on, nobody is logged out.
      let refreshToken = session.refreshToken;
      for (let round = 0; round < 3; round++) {
        const refreshed = await gateway.fetch("/auth/refresh", {
          method: "POST",
          headers: { cookie: refreshCookieHeader(refreshToken) },
        });
        expect(refreshed.status).toBe(200);
        refreshToken = setCookie(refreshed, REFRESH_COOKIE)?.value ?? "";
      }

      const logout = await gateway.fetch("/auth/logout", {
        method: "POST",
        headers: { authorization: `Bearer ${leaving.accessToken}`, cookie: refreshCookieHeader(leaving.refreshToken) },
      });
      expect(logout.status).toBe(204);
      expect(logout.headers.get("portcullis-degraded")).toBe("kv-writes-exhausted");
      await gateway.waitForLog(
        (line) => line.includes('"event":"revocation_publish_failed"') && line.includes('"exhausted":"kv_writes"'),
      );
      // Recorded in the ledger and in this isolate: the logged-out token is refused here.
      expect((await gateway.fetch("/api/x", bearer(leaving.accessToken))).status).toBe(401);
    } finally {
      await setFaults(gateway, { kvWriteLimit: false });
    }
  });

  it("answers protected requests 503 saying the daily KV read limit ran out, keeps public routes up, and recovers", async () => {
    const token = await mintToken(gateway.key);
    await setFaults(gateway, { kvReadLimit: true });
    try {
      const refused = await gateway.fetch("/api/x", bearer(token));
      expect(refused.status).toBe(503);
      expect(((await refused.json()) as { detail?: string }).detail).toMatch(/daily KV read limit is exhausted/);
      await gateway.waitForLog((line) => line.includes("KV daily read limit exhausted (kv_reads)"));
      expect((await gateway.fetch("/public/page")).status).toBe(200);
    } finally {
      await setFaults(gateway, { kvReadLimit: false });
    }
    expect((await gateway.fetch("/api/x", bearer(token))).status).toBe(200);
  });
});
