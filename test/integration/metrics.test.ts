/**
 * Metrics: each decision the gateway makes writes the right data point to the METRICS
 * Analytics Engine binding (observed inside workerd, test/support/metrics.ts), and a
 * dataset that fails never fails or changes a request.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Gateway, startGateway } from "../support/gateway";
import { dataPoints, metricsRecorderOptions, setMetricsFailing, waitForPoints } from "../support/metrics";
import { login, REFRESH_COOKIE, refreshCookieHeader, setCookie } from "../support/session-helpers";
import { TEST_SECRETS } from "../support/test-keys";

let gateway: Gateway;

beforeAll(async () => {
  gateway = await startGateway({ vars: { UPSTREAM_TIMEOUT_MS: "300" }, ...metricsRecorderOptions() });
});
afterAll(() => gateway.close());

function refresh(refreshToken: string): Promise<Response> {
  return gateway.fetch("/auth/refresh", { method: "POST", headers: { cookie: refreshCookieHeader(refreshToken) } });
}

async function mark(): Promise<number> {
  return (await dataPoints(gateway)).length;
}

function count(points: string[][], event: string): number {
  return points.filter(([name]) => name === event).length;
}

describe("data points", () => {
  it("a password login, by method", async () => {
    const since = await mark();
    await login(gateway, "alice");
    const points = await waitForPoints(gateway, [["login", "password"]], since);
    expect(points.every((point) => point.length === 3)).toBe(true);
  });

  it("one rotation and the racers served from the grace window", async () => {
    const session = await login(gateway, "alice");
    const since = await mark();
    const answers = await Promise.all(Array.from({ length: 10 }, () => refresh(session.refreshToken)));
    expect(answers.map((answer) => answer.status)).toEqual(Array(10).fill(200));
    const points = await waitForPoints(gateway, [["rotation"], ...Array(9).fill(["grace_refresh"])], since);
    expect(count(points, "rotation")).toBe(1);
    expect(count(points, "reuse_detected")).toBe(0);
  });

  it("a reuse detection and the revocation it causes", async () => {
    const session = await login(gateway, "alice");
    const first = await refresh(session.refreshToken);
    const second = await refresh(setCookie(first, REFRESH_COOKIE)?.value ?? "");
    expect(second.status).toBe(200);
    const since = await mark();
    expect((await refresh(session.refreshToken)).status).toBe(401); // two rotations back: reuse
    await waitForPoints(gateway, [["reuse_detected"], ["revocation", "session", "refresh_token_reuse"]], since);
  });

  it("revocations by kind: a logout, an operator's revoke-subject", async () => {
    const session = await login(gateway, "alice");
    const since = await mark();
    const logout = await gateway.fetch("/auth/logout", {
      method: "POST",
      headers: { authorization: `Bearer ${session.accessToken}`, cookie: refreshCookieHeader(session.refreshToken) },
    });
    expect(logout.status).toBe(204);
    const revoke = await gateway.fetch("/auth/operator/revoke-subject", {
      method: "POST",
      headers: { authorization: `Bearer ${TEST_SECRETS.OPERATOR_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ sub: "user-nobody" }),
    });
    expect(revoke.status).toBe(200);
    await waitForPoints(
      gateway,
      [
        ["revocation", "session", "logout"],
        ["revocation", "token", "logout"],
        ["revocation", "subject", "operator"],
      ],
      since,
    );
  });

  it("upstream errors and timeouts, and the 5xx answers they cause, by cause", async () => {
    const { upstream } = gateway;
    const hanging: ServerResponse[] = [];
    upstream.route("/metrics-test/down", (_request: IncomingMessage, response: ServerResponse) => {
      response.writeHead(503).end("down");
    });
    upstream.route("/metrics-test/reset", (request: IncomingMessage) => {
      request.socket.destroy();
    });
    upstream.route("/metrics-test/slow", (_request: IncomingMessage, response: ServerResponse) => {
      hanging.push(response);
    });
    try {
      const session = await login(gateway, "alice");
      const authorization = { authorization: `Bearer ${session.accessToken}` };
      const since = await mark();
      expect((await gateway.fetch("/metrics-test/down", { headers: authorization })).status).toBe(503);
      expect((await gateway.fetch("/metrics-test/reset", { headers: authorization })).status).toBe(502);
      expect((await gateway.fetch("/metrics-test/slow", { headers: authorization })).status).toBe(504);
      await waitForPoints(
        gateway,
        [
          ["upstream_error", "status_503"],
          ["upstream_error", "upstream_unreachable"],
          ["server_error", "upstream_unreachable"],
          ["upstream_error", "upstream_timeout"],
          ["server_error", "upstream_timeout"],
        ],
        since,
      );
    } finally {
      for (const response of hanging) response.destroy();
      for (const path of ["/metrics-test/down", "/metrics-test/reset", "/metrics-test/slow"]) upstream.unroute(path);
    }
  });

  it("a failing dataset never fails a request", async () => {
    await setMetricsFailing(gateway, true);
    try {
      const session = await login(gateway, "alice");
      const rotated = await refresh(session.refreshToken);
      expect(rotated.status).toBe(200);
      const api = await gateway.fetch("/api/things", { headers: { authorization: `Bearer ${session.accessToken}` } });
      expect(api.status).toBe(200);
      const logout = await gateway.fetch("/auth/logout", {
        method: "POST",
        headers: { cookie: refreshCookieHeader(setCookie(rotated, REFRESH_COOKIE)?.value ?? "") },
      });
      expect(logout.status).toBe(204);
    } finally {
      await setMetricsFailing(gateway, false);
    }
  });
});

describe("rate limits", () => {
  it("a refused login is counted by limit", async () => {
    const limited = await startGateway({ rateLimits: "wrangler", ...metricsRecorderOptions() });
    try {
      let status = 0;
      for (let attempt = 0; attempt < 12 && status !== 429; attempt += 1) {
        const response = await limited.fetch("/auth/login", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ username: `someone-${attempt}`, password: "wrong" }),
        });
        status = response.status;
        await response.body?.cancel();
      }
      expect(status).toBe(429);
      await waitForPoints(limited, [["rate_limited", "LOGIN_IP_LIMIT"]]);
    } finally {
      await limited.close();
    }
  });
});
