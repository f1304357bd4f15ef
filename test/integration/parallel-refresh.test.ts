/**
 * Invariant 4: N parallel requests with the same expired access token and the same
 * refresh cookie all succeed, exactly one rotation happens, every racer gets the
 * winner's cookie, and the session survives. The same for two tabs refreshing at once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Gateway, startGateway } from "../support/gateway";
import { expiredTokenFor, login, REFRESH_COOKIE, refreshCookieHeader, setCookie } from "../support/session-helpers";
import { decodeClaims } from "../support/tokens";

const PARALLEL = 50;
let gateway: Gateway;

beforeAll(async () => {
  gateway = await startGateway({ vars: { REFRESH_GRACE_SECONDS: "30" } });
});
afterAll(() => gateway.close());

describe("parallel refreshes of one session", () => {
  it(`serves ${PARALLEL} parallel requests with one expired token and one refresh cookie, rotating once`, async () => {
    const session = await login(gateway);
    const expired = await expiredTokenFor(gateway, session);
    const before = gateway.upstream.proxied().length;

    const responses = await Promise.all(
      Array.from({ length: PARALLEL }, (_, index) =>
        gateway.fetch(`/api/item/${index}`, {
          method: "POST",
          headers: { authorization: `Bearer ${expired}`, cookie: refreshCookieHeader(session.refreshToken) },
          body: `request ${index}`,
        }),
      ),
    );

    expect(responses.map((response) => response.status)).toEqual(Array(PARALLEL).fill(200));
    const cookies = new Set(responses.map((response) => setCookie(response, REFRESH_COOKIE)?.value));
    expect(cookies.size).toBe(1);
    const [winner] = cookies;
    expect(winner).toBeDefined();
    expect(winner).not.toBe(session.refreshToken);
    for (const response of responses) {
      const token = response.headers.get("authorization")?.replace(/^Bearer /, "") ?? "";
      expect(decodeClaims(token).sid).toBe(session.claims.sid);
    }
    expect(gateway.upstream.proxied().length - before).toBe(PARALLEL);

    // Exactly one rotation happened, and nobody was taken for a thief.
    const sidField = `"sid":"${session.claims.sid}"`;
    await gateway.waitForLog((line) => line.includes(sidField) && line.includes('"event":"session_rotated"'));
    await gateway.flushLogs();
    const events = gateway.logs.filter((line) => line.includes(sidField)).map((line) => JSON.parse(line).event);
    expect(events.filter((event) => event === "session_rotated")).toHaveLength(1);
    expect(events).not.toContain("refresh_token_reuse");

    // The session survives: the winner's cookie refreshes again.
    const next = await gateway.fetch("/auth/refresh", {
      method: "POST",
      headers: { cookie: refreshCookieHeader(winner ?? "") },
    });
    expect(next.status).toBe(200);
  });

  it("gives two tabs refreshing at once the same new refresh token", async () => {
    const session = await login(gateway);
    const refresh = () =>
      gateway.fetch("/auth/refresh", {
        method: "POST",
        headers: { cookie: refreshCookieHeader(session.refreshToken) },
      });
    const [tabA, tabB] = await Promise.all([refresh(), refresh()]);
    expect(tabA?.status).toBe(200);
    expect(tabB?.status).toBe(200);
    const cookieA = setCookie(tabA as Response, REFRESH_COOKIE)?.value;
    expect(cookieA).toBeDefined();
    expect(setCookie(tabB as Response, REFRESH_COOKIE)?.value).toBe(cookieA);
    const bodyA = (await (tabA as Response).json()) as { access_token: string };
    const bodyB = (await (tabB as Response).json()) as { access_token: string };
    expect(decodeClaims(bodyA.access_token).sid).toBe(decodeClaims(bodyB.access_token).sid);
  });

  it("still treats a rotated token as reuse once the grace window has passed", async () => {
    const strict = await startGateway({ upstream: gateway.upstream, vars: { REFRESH_GRACE_SECONDS: "0" } });
    try {
      const session = await login(strict);
      const first = await strict.fetch("/auth/refresh", {
        method: "POST",
        headers: { cookie: refreshCookieHeader(session.refreshToken) },
      });
      expect(first.status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 5));
      const replay = await strict.fetch("/auth/refresh", {
        method: "POST",
        headers: { cookie: refreshCookieHeader(session.refreshToken) },
      });
      expect(replay.status).toBe(401);
    } finally {
      await strict.close();
    }
  });
});
