/**
 * Revocation across two locations, simulated (test/support/two-locations.ts): two copies
 * of the gateway in separate isolates sharing KV and the Durable Objects.
 *
 * - A revocation written through A (logout, an operator's revoke-subject, reuse
 *   detection) is refused in B within the documented bound, and no request B receives
 *   after the bound is let through; on a `revocation = "strict"` route, B refuses it at
 *   the very next request.
 * - 50 racing requests with one expired token and one refresh cookie, split across A and
 *   B: one rotation, no reuse detection, the session survives.
 * - Logout in A, then a refresh in B: refused (the session's object is the authority).
 *
 * Local KV has no propagation delay; production adds KV's, ≈ 60 s (docs/storage.md).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PUBLISH_INTERVAL_MS } from "../../src/revocation/revocation-snapshot";
import { MAX_REFRESH_WAIT_MS } from "../../src/revocation/revocation-store";
import {
  expiredTokenFor,
  type LoggedIn,
  login,
  REFRESH_COOKIE,
  refreshCookieHeader,
  setCookie,
} from "../support/session-helpers";
import { TEST_SECRETS } from "../support/test-keys";
import { startTwoLocations, type TwoLocations } from "../support/two-locations";

const CACHE_SECONDS = 2;
/**
 * docs/storage.md: elsewhere, a revocation bites once the ledger has published it (at most
 * PUBLISH_INTERVAL_MS), KV has carried it there (at once here; ≈ 60 s in production) and
 * that isolate's snapshot has aged out (REVOCATION_CACHE_SECONDS, plus at most
 * MAX_REFRESH_WAIT_MS while another request re-reads it).
 */
const BOUND_MS = PUBLISH_INTERVAL_MS + CACHE_SECONDS * 1000 + MAX_REFRESH_WAIT_MS;
const RACERS = 50;

let locations: TwoLocations;

beforeAll(async () => {
  locations = await startTwoLocations({
    REVOCATION_CACHE_SECONDS: String(CACHE_SECONDS),
    ROUTES: JSON.stringify([{ path: "/payments/*", revocation: "strict" }]),
  });
});
afterAll(() => locations?.close());

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

/**
 * Polls B with the token until it is refused. Fails if B lets through any request sent
 * after the bound had passed (so it also fails if B never refuses).
 */
async function expectRefusedInB(token: string, revokedAt: number): Promise<void> {
  const deadline = revokedAt + BOUND_MS;
  for (;;) {
    const sentAt = Date.now();
    const status = (await locations.b.fetch("/api/x", bearer(token))).status;
    if (status === 401) return;
    expect(status).toBe(200);
    expect(sentAt, "B let a request through after the bound").toBeLessThanOrEqual(deadline);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Logged in through A; B has checked (and cached) the token as not revoked. */
async function sessionSeenInB(): Promise<LoggedIn> {
  const session = await login(locations.a);
  expect((await locations.b.fetch("/api/x", bearer(session.accessToken))).status).toBe(200);
  expect((await locations.b.fetch("/payments/1", bearer(session.accessToken))).status).toBe(200);
  return session;
}

async function expectStrictRefusalInB(session: LoggedIn): Promise<void> {
  expect((await locations.b.fetch("/payments/1", bearer(session.accessToken))).status).toBe(401);
}

describe("a revocation through A, seen from B", () => {
  it("logout: refused in B within the bound; on a strict route at the next request", async () => {
    const session = await sessionSeenInB();
    const logout = await locations.a.fetch("/auth/logout", {
      method: "POST",
      headers: { authorization: `Bearer ${session.accessToken}` },
    });
    expect(logout.status).toBe(204);
    const revokedAt = Date.now();
    await expectStrictRefusalInB(session);
    await expectRefusedInB(session.accessToken, revokedAt);
  });

  it("an operator's revoke-subject: refused in B within the bound; on a strict route at the next request", async () => {
    const session = await sessionSeenInB();
    const revoke = await locations.a.fetch("/auth/operator/revoke-subject", {
      method: "POST",
      headers: { authorization: `Bearer ${TEST_SECRETS.OPERATOR_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ sub: session.claims.sub }),
    });
    expect(revoke.status).toBe(200);
    const revokedAt = Date.now();
    await expectStrictRefusalInB(session);
    await expectRefusedInB(session.accessToken, revokedAt);
  });

  it("reuse detection: refused in B within the bound; on a strict route at the next request", async () => {
    const session = await sessionSeenInB();
    const first = await locations.a.fetch("/auth/refresh", {
      method: "POST",
      headers: { cookie: refreshCookieHeader(session.refreshToken) },
    });
    const second = await locations.a.fetch("/auth/refresh", {
      method: "POST",
      headers: { cookie: refreshCookieHeader(setCookie(first, REFRESH_COOKIE)?.value ?? "") },
    });
    expect(second.status).toBe(200);
    // The login's token again, two rotations back: reuse, the session is revoked.
    const reuse = await locations.a.fetch("/auth/refresh", {
      method: "POST",
      headers: { cookie: refreshCookieHeader(session.refreshToken) },
    });
    expect(reuse.status).toBe(401);
    const revokedAt = Date.now();
    await expectStrictRefusalInB(session);
    await expectRefusedInB(session.accessToken, revokedAt);
  });
});

describe("racing refreshes split across A and B", () => {
  it(`${RACERS} requests with one expired token and refresh cookie: one rotation, no reuse, the session survives`, async () => {
    const session = await login(locations.a);
    const expired = await expiredTokenFor(locations.a, session);
    const init = {
      headers: { authorization: `Bearer ${expired}`, cookie: refreshCookieHeader(session.refreshToken) },
    };
    const answers = await Promise.all(
      Array.from({ length: RACERS }, (_, index) =>
        (index % 2 === 0 ? locations.a : locations.b).fetch(`/api/race/${index}`, init),
      ),
    );
    expect(answers.map((answer) => answer.status)).toEqual(Array(RACERS).fill(200));
    // One rotation: every racer, in either location, was handed the same new refresh token.
    const cookies = new Set(answers.map((answer) => setCookie(answer, REFRESH_COOKIE)?.value));
    expect(cookies.size).toBe(1);
    const [next] = [...cookies];
    expect(next).not.toBe(session.refreshToken);

    // No reuse was detected, and the session lives on, from either location.
    await locations.a.flushLogs();
    const sid = String(session.claims.sid);
    expect(locations.a.logs.filter((line) => line.includes("refresh_token_reuse") && line.includes(sid))).toEqual([]);
    expect(locations.a.logs.filter((line) => line.includes("session_rotated") && line.includes(sid))).toHaveLength(1);
    const later = await locations.b.fetch("/auth/refresh", {
      method: "POST",
      headers: { cookie: refreshCookieHeader(next ?? "") },
    });
    expect(later.status).toBe(200);
  });
});

describe("logout in A, refresh in B", () => {
  it("is refused: the session's object ended it for every location", async () => {
    const session = await login(locations.a);
    const logout = await locations.a.fetch("/auth/logout", {
      method: "POST",
      headers: { cookie: refreshCookieHeader(session.refreshToken) },
    });
    expect(logout.status).toBe(204);
    const refresh = await locations.b.fetch("/auth/refresh", {
      method: "POST",
      headers: { cookie: refreshCookieHeader(session.refreshToken) },
    });
    expect(refresh.status).toBe(401);
    expect(((await refresh.json()) as { error: string }).error).toBe("invalid_grant");
  });
});
