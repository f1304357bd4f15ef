/**
 * A user's sessions: the per-subject index (SUBJECT_SESSIONS) lists them with a coarse
 * device and never an address or a token; a user ends one, or all the others; another
 * user's session answers 404; logout, reuse and the operator take sessions out of the
 * list; a cap per user (100 unless set) ends the oldest; expired sessions are pruned.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Gateway, startGateway } from "../support/gateway";
import {
  ANY_SUBJECT_PASSWORD,
  type SeededSession,
  seedSessions,
  sessionSeeder,
  vouchForAnySubject,
} from "../support/seeded-sessions";
import {
  expiredTokenFor,
  type LoggedIn,
  REFRESH_COOKIE,
  refreshCookieHeader,
  setCookie,
} from "../support/session-helpers";
import { TEST_SECRETS } from "../support/test-keys";
import { decodeClaims } from "../support/tokens";
import { CREDENTIAL_CHECK_PATH, TEST_USERS } from "../support/upstream";

const FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0";
const SAFARI_IPHONE =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1";
const operator = { authorization: `Bearer ${TEST_SECRETS.OPERATOR_TOKEN}`, "content-type": "application/json" };

interface ListedSession {
  id: string;
  created_at: string;
  last_used_at: string;
  expires_at: string;
  login_method: string;
  device: string;
  country?: string;
  current?: boolean;
}

let gateway: Gateway;

beforeAll(async () => {
  gateway = await startGateway({ vars: { REFRESH_GRACE_SECONDS: "0" } });
});
afterAll(() => gateway.close());

async function loginAs(target: Gateway, user: string, userAgent: string): Promise<LoggedIn> {
  const response = await target.fetch("/auth/login", {
    method: "POST",
    headers: { "content-type": "application/json", "user-agent": userAgent },
    body: JSON.stringify({ username: user, password: TEST_USERS[user]?.password ?? ANY_SUBJECT_PASSWORD }),
  });
  expect(response.status).toBe(200);
  const body = (await response.json()) as { access_token: string };
  const refreshToken = setCookie(response, REFRESH_COOKIE)?.value ?? "";
  return { accessToken: body.access_token, refreshToken, claims: decodeClaims(body.access_token) };
}

async function listSessions(target: Gateway, session: LoggedIn, query = ""): Promise<ListedSession[]> {
  const response = await target.fetch(`/auth/sessions${query}`, {
    headers: { authorization: `Bearer ${session.accessToken}` },
  });
  expect(response.status).toBe(200);
  expect(response.headers.get("cache-control")).toBe("no-store");
  return ((await response.json()) as { sessions: ListedSession[] }).sessions;
}

function refresh(target: Gateway, session: LoggedIn): Promise<Response> {
  return target.fetch("/auth/refresh", {
    method: "POST",
    headers: { cookie: refreshCookieHeader(session.refreshToken) },
  });
}

function callApi(target: Gateway, session: LoggedIn): Promise<Response> {
  return target.fetch("/api/things", { headers: { authorization: `Bearer ${session.accessToken}` } });
}

async function revokeSubject(sub: string): Promise<void> {
  const response = await gateway.fetch("/auth/operator/revoke-subject", {
    method: "POST",
    headers: operator,
    body: JSON.stringify({ sub }),
  });
  expect(response.status).toBe(200);
}

describe("listing your sessions", () => {
  it("lists each session of the caller with a coarse device, the current one marked, and nothing else", async () => {
    const laptop = await loginAs(gateway, "alice", FIREFOX_LINUX);
    const phone = await loginAs(gateway, "alice", SAFARI_IPHONE);
    const admin = await loginAs(gateway, "admin", FIREFOX_LINUX);

    const response = await gateway.fetch("/auth/sessions", {
      headers: { authorization: `Bearer ${phone.accessToken}` },
    });
    const text = await response.text();
    const sessions = (JSON.parse(text) as { sessions: ListedSession[] }).sessions;
    const ids = sessions.map((session) => session.id);
    expect(ids).toEqual(expect.arrayContaining([laptop.claims.sid, phone.claims.sid]));
    expect(ids).not.toContain(admin.claims.sid);
    expect(sessions.filter((session) => session.current)).toHaveLength(1);
    const mine = sessions.find((session) => session.id === phone.claims.sid);
    expect(mine).toMatchObject({ current: true, login_method: "password", device: "Safari on iOS" });
    expect(sessions.find((session) => session.id === laptop.claims.sid)).toMatchObject({
      current: false,
      device: "Firefox on Linux",
    });
    for (const session of sessions) {
      expect(Date.parse(session.created_at)).toBeLessThanOrEqual(Date.parse(session.last_used_at));
      expect(Date.parse(session.expires_at)).toBeGreaterThan(Date.now());
      if (session.country !== undefined) expect(session.country).toMatch(/^[A-Z]{2}$/);
    }
    // Never a token, a refresh token or an address.
    expect(text).not.toContain(phone.refreshToken.split(".")[1]);
    expect(text).not.toContain(phone.accessToken);
    expect(text).not.toMatch(/\d+\.\d+\.\d+\.\d+|127\.0\.0\.1|::1/);
  });

  it("refuses without an access token, with an expired one, and with a revoked one", async () => {
    expect((await gateway.fetch("/auth/sessions")).status).toBe(401);
    const session = await loginAs(gateway, "alice", FIREFOX_LINUX);
    const expired = await expiredTokenFor(gateway, session);
    const stale = await gateway.fetch("/auth/sessions", { headers: { authorization: `Bearer ${expired}` } });
    expect(stale.status).toBe(401);
    expect(stale.headers.get("www-authenticate")).toContain('error="invalid_token"');
    // Not even with the refresh cookie: these answers hand no token back, so nothing rotates here.
    const withCookie = await gateway.fetch("/auth/sessions", {
      headers: { authorization: `Bearer ${expired}`, cookie: refreshCookieHeader(session.refreshToken) },
    });
    expect(withCookie.status).toBe(401);
    expect(withCookie.headers.getSetCookie()).toEqual([]);
    const refreshed = await gateway.fetch("/auth/refresh", {
      method: "POST",
      headers: { cookie: refreshCookieHeader(session.refreshToken) },
    });
    expect(refreshed.status).toBe(200);
    await gateway.fetch("/auth/logout", {
      method: "POST",
      headers: { authorization: `Bearer ${session.accessToken}` },
    });
    const revoked = await gateway.fetch("/auth/sessions", {
      headers: { authorization: `Bearer ${session.accessToken}` },
    });
    expect(revoked.status).toBe(401);
  });

  it("answers 405 with the methods a path takes", async () => {
    const response = await gateway.fetch("/auth/sessions/revoke-others", { method: "GET" });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("POST");
    const list = await gateway.fetch("/auth/sessions", { method: "POST" });
    expect(list.status).toBe(405);
    expect(list.headers.get("allow")).toBe("GET, HEAD");
  });

  it("records the last use when the refresh token rotates, to the minute", async () => {
    const session = await loginAs(gateway, "alice", FIREFOX_LINUX);
    const entry = async () => (await listSessions(gateway, session)).find((listed) => listed.id === session.claims.sid);
    const before = await entry();
    // A rotation right after login: "last used" moves only by the minute, so it stays.
    const rotated = await refresh(gateway, session);
    expect(rotated.status).toBe(200);
    expect((await entry())?.last_used_at).toBe(before?.last_used_at);

    // Two minutes on (through the session's own object: the Worker's clock cannot be moved).
    const namespace = await gateway.mf.getDurableObjectNamespace("SESSIONS");
    const object = namespace.get(namespace.idFromName(String(session.claims.sid))) as unknown as {
      rotate(input: { token: string; now: number; graceSeconds: number }): Promise<{ ok: boolean }>;
    };
    const later = Date.now() + 120_000;
    const token = setCookie(rotated, REFRESH_COOKIE)?.value ?? "";
    expect((await object.rotate({ token, now: later, graceSeconds: 0 })).ok).toBe(true);
    // The index is told after the rotation's answer (a rotation never waits for it): wait for it.
    for (let attempt = 0; (await entry())?.last_used_at !== new Date(later).toISOString(); attempt += 1) {
      expect(attempt).toBeLessThan(500);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  });
});

describe("ending sessions", () => {
  it("ends one of your own sessions: its tokens are refused and it leaves the list", async () => {
    const laptop = await loginAs(gateway, "alice", FIREFOX_LINUX);
    const phone = await loginAs(gateway, "alice", SAFARI_IPHONE);
    const ended = await gateway.fetch(`/auth/sessions/${laptop.claims.sid}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${phone.accessToken}` },
    });
    expect(ended.status).toBe(204);
    expect(ended.headers.get("set-cookie")).toBeNull();
    expect((await callApi(gateway, laptop)).status).toBe(401);
    expect((await refresh(gateway, laptop)).status).toBe(401);
    expect((await listSessions(gateway, phone)).map((entry) => entry.id)).not.toContain(laptop.claims.sid);
    expect((await callApi(gateway, phone)).status).toBe(200);
  });

  it("answers 404 for another user's session (and for a made-up id), and changes nothing", async () => {
    const alice = await loginAs(gateway, "alice", FIREFOX_LINUX);
    const admin = await loginAs(gateway, "admin", FIREFOX_LINUX);
    for (const sid of [admin.claims.sid, "AAAAAAAAAAAAAAAAAAAAAA", "not-a-session", "x", "%E0%A4%A", "%00", "a%2Fb"]) {
      const response = await gateway.fetch(`/auth/sessions/${sid}`, {
        method: "DELETE",
        headers: { authorization: `Bearer ${alice.accessToken}` },
      });
      // A path with no canonical form (a broken escape, an encoded NUL or slash) is refused first.
      expect(response.status).toBe(String(sid).includes("%") ? 400 : 404);
      expect(response.headers.get("content-type")).toBe("application/problem+json");
    }
    expect((await callApi(gateway, admin)).status).toBe(200);
    expect((await refresh(gateway, admin)).status).toBe(200);
  });

  it("ending the current session clears its cookies", async () => {
    const session = await loginAs(gateway, "alice", FIREFOX_LINUX);
    const response = await gateway.fetch(`/auth/sessions/${session.claims.sid}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${session.accessToken}` },
    });
    expect(response.status).toBe(204);
    expect(setCookie(response, REFRESH_COOKIE)?.attributes).toContain("Max-Age=0");
    expect((await callApi(gateway, session)).status).toBe(401);
  });

  it("signs out everywhere else and keeps the current session", async () => {
    // A subject of its own, so no other test's sessions are ended with it.
    vouchForAnySubject(gateway.upstream);
    const others = [await loginAs(gateway, "bob", FIREFOX_LINUX), await loginAs(gateway, "bob", SAFARI_IPHONE)];
    const current = await loginAs(gateway, "bob", FIREFOX_LINUX);
    const response = await gateway.fetch("/auth/sessions/revoke-others", {
      method: "POST",
      headers: { authorization: `Bearer ${current.accessToken}` },
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { ended: number }).ended).toBeGreaterThanOrEqual(2);
    for (const other of others) {
      expect((await callApi(gateway, other)).status).toBe(401);
      expect((await refresh(gateway, other)).status).toBe(401);
    }
    expect((await listSessions(gateway, current)).map((entry) => entry.id)).toEqual([current.claims.sid]);
    expect((await callApi(gateway, current)).status).toBe(200);
    gateway.upstream.unroute(CREDENTIAL_CHECK_PATH);
  });

  it("logout and reuse detection take the session out of the list", async () => {
    const watcher = await loginAs(gateway, "alice", FIREFOX_LINUX);
    const loggedOut = await loginAs(gateway, "alice", FIREFOX_LINUX);
    await gateway.fetch("/auth/logout", {
      method: "POST",
      headers: { cookie: refreshCookieHeader(loggedOut.refreshToken) },
    });
    const reused = await loginAs(gateway, "alice", FIREFOX_LINUX);
    expect((await refresh(gateway, reused)).status).toBe(200);
    expect((await refresh(gateway, reused)).status).toBe(401); // grace 0: reuse
    const listed = (await listSessions(gateway, watcher)).map((entry) => entry.id);
    expect(listed).toContain(watcher.claims.sid);
    expect(listed).not.toContain(loggedOut.claims.sid);
    expect(listed).not.toContain(reused.claims.sid);
  });
});

describe("operator", () => {
  it("lists a subject's sessions, and revoking the subject ends and unlists them all", async () => {
    const first = await loginAs(gateway, "admin", FIREFOX_LINUX);
    const second = await loginAs(gateway, "admin", SAFARI_IPHONE);
    const listed = await gateway.fetch("/auth/operator/sessions?sub=user-admin", { headers: operator });
    expect(listed.status).toBe(200);
    const body = (await listed.json()) as { sessions: ListedSession[] };
    expect(body.sessions.map((entry) => entry.id)).toEqual(
      expect.arrayContaining([first.claims.sid, second.claims.sid]),
    );

    await revokeSubject("user-admin");
    const after = await gateway.fetch("/auth/operator/sessions?sub=user-admin", { headers: operator });
    expect(((await after.json()) as { sessions: unknown[] }).sessions).toEqual([]);
    expect((await refresh(gateway, first)).status).toBe(401);
  });

  it("refuses without the operator token", async () => {
    const response = await gateway.fetch("/auth/operator/sessions?sub=user-admin", {
      headers: { authorization: "Bearer wrong" },
    });
    expect(response.status).toBe(401);
    expect((await gateway.fetch("/auth/operator/sessions", { headers: operator })).status).toBe(400);
  });
});

describe("bounds", () => {
  it("prunes expired sessions from the index", async () => {
    const session = await loginAs(gateway, "alice", FIREFOX_LINUX);
    const namespace = await gateway.mf.getDurableObjectNamespace("SUBJECT_SESSIONS");
    const index = namespace.get(namespace.idFromName("sub:user-alice")) as unknown as {
      page(input: { now: number; limit: number }): Promise<{ entries: { sid: string }[] }>;
    };
    const listed = async (now: number) => (await index.page({ now, limit: 100 })).entries.map((entry) => entry.sid);
    expect(await listed(Date.now())).toContain(session.claims.sid);
    // Past every session's absolute expiry: the index empties itself.
    expect(await listed(Date.now() + 31 * 86_400_000)).toEqual([]);
    expect(await listed(Date.now())).toEqual([]);
  });

  it("by default a subject holds 100 sessions: the 101st login ends the oldest", async () => {
    const many = await startGateway({ extraWorkers: [sessionSeeder()] });
    try {
      vouchForAnySubject(many.upstream);
      const seeded = await seedSessions(many, "user-carol", 100);
      const newest = await loginAs(many, "carol", FIREFOX_LINUX);
      const oldest = seeded[0] as SeededSession;
      const listed = await listSessions(many, newest, "?limit=100");
      expect(listed).toHaveLength(100);
      expect(listed.map((entry) => entry.id)).not.toContain(oldest.sid);
      expect(
        (await many.fetch("/api/things", { headers: { authorization: `Bearer ${oldest.accessToken}` } })).status,
      ).toBe(401);
      const refreshed = await many.fetch("/auth/refresh", {
        method: "POST",
        headers: { cookie: refreshCookieHeader(oldest.refreshToken) },
      });
      expect(refreshed.status).toBe(401);
      expect((await callApi(many, newest)).status).toBe(200);
    } finally {
      await many.close();
    }
  });

  it("a login beyond MAX_SESSIONS_PER_USER ends the oldest session", async () => {
    const capped = await startGateway({ vars: { MAX_SESSIONS_PER_USER: "2" } });
    try {
      const oldest = await loginAs(capped, "alice", FIREFOX_LINUX);
      const middle = await loginAs(capped, "alice", SAFARI_IPHONE);
      const newest = await loginAs(capped, "alice", FIREFOX_LINUX);
      expect((await refresh(capped, oldest)).status).toBe(401);
      expect((await callApi(capped, oldest)).status).toBe(401);
      expect((await listSessions(capped, newest)).map((entry) => entry.id).sort()).toEqual(
        [middle.claims.sid, newest.claims.sid].sort(),
      );
      expect((await callApi(capped, middle)).status).toBe(200);
    } finally {
      await capped.close();
    }
  });
});
