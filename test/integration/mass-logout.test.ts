/**
 * Mass logout within the platform's limits (issue 24), with 2,000 sessions of one subject:
 * "sign out everywhere else" and the operator's revoke-subject answer at once; every other
 * session's access token and refresh token is refused at its next request; the caller's
 * own session keeps working; the list is exact at once; and the subject's index ends the
 * sessions' objects in the background, one batch per alarm invocation, each within the
 * Workers Free plan's 50 subrequests, until none is left.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Gateway, startGateway } from "../support/gateway";
import { indexOf, type SeededSession, seedSessions, sessionSeeder } from "../support/seeded-sessions";
import { refreshCookieHeader } from "../support/session-helpers";
import { TEST_SECRETS } from "../support/test-keys";

/**
 * What the mechanism needs crossed, many times over: the clean-up's batch of 25 (80 alarm
 * invocations), the index's storage calls of 128 keys (16 of them), the 10 sessions the
 * request ends itself, and the 200 sampled below; and AT_ONCE_MS still tells an answer at
 * once from ending them in the request. Each session costs about 8 ms to seed and 4 ms to
 * clean up in miniflare, so the 5,000 took about 80 s of the suite for nothing
 * more: MASS_LOGOUT_SESSIONS=5000 runs them (docs/cost.md has what they measured).
 */
const SESSIONS = Number(process.env.MASS_LOGOUT_SESSIONS ?? 2_000);
/**
 * revoke-subject takes the same path through the index (endAll): a fifth as many (400) still
 * crosses 16 batches of 25 and three of the 128-key storage calls.
 */
const SUBJECT_SESSIONS = Math.ceil(SESSIONS / 5);
/**
 * "At once": it answered in 0.04–0.57 s here with 5,000 sessions (logged below), where ending
 * them one by one took 12.6 s for 2,000. The bound is generous so a loaded CI machine cannot
 * fail it, and still tells the two apart.
 */
const AT_ONCE_MS = 5_000;
/** Seeding 5,000 session objects takes about 45 s in miniflare, the clean-up about 30 s; 2,000 take 40 % of that. */
const TEST_TIMEOUT_MS = 300_000;
/** Workers Free plan: subrequests per request or invocation (docs/cost.md cites the page). */
const FREE_PLAN_SUBREQUESTS = 50;
/** The index's batch (src/sessions/session-cleanup.ts CLEANUP_BATCH_SIZE): half the Free plan's limit. */
const CLEANUP_BATCH_SIZE = 25;
/** How long the background clean-up may take here (5,000 sessions took about 22 s). */
const CLEANUP_WAIT_MS = 60_000;
const OPERATOR = { authorization: `Bearer ${TEST_SECRETS.OPERATOR_TOKEN}`, "content-type": "application/json" };

interface CleanupRun {
  sessions: number;
  pending: number;
  alarms: number;
  calls: number;
  maxCallsPerAlarm: number;
}
interface IndexObject {
  cleanupStatus(): Promise<{ pending: number; running?: CleanupRun; last?: CleanupRun }>;
  page(input: { now: number; limit: number }): Promise<{ entries: { sid: string }[] }>;
}
interface SessionObject {
  isAlive(input: { now: number }): Promise<boolean>;
}

let gateway: Gateway;

beforeAll(async () => {
  // No cap: all the sessions of one subject must stay listed.
  gateway = await startGateway({ vars: { MAX_SESSIONS_PER_USER: "0" }, extraWorkers: [sessionSeeder()] });
});
afterAll(() => gateway.close());

/** The first and last, and `count` more spread over the rest. */
function sample(sessions: readonly SeededSession[], count = 200): SeededSession[] {
  const step = Math.max(1, Math.floor(sessions.length / count));
  const picked = new Set([sessions[0], sessions.at(-1)]);
  for (let index = step; index < sessions.length - 1 && picked.size < count + 2; index += step)
    picked.add(sessions[index]);
  return [...picked].filter((session): session is SeededSession => session !== undefined);
}

function callApi(session: SeededSession): Promise<Response> {
  return gateway.fetch("/api/things", { headers: { authorization: `Bearer ${session.accessToken}` } });
}

function refresh(session: SeededSession): Promise<Response> {
  return gateway.fetch("/auth/refresh", {
    method: "POST",
    headers: { cookie: refreshCookieHeader(session.refreshToken) },
  });
}

/** The statuses of `send` over the sessions, 16 in flight (200 at once closed sockets on a loaded machine). */
async function statusesOf(
  sessions: readonly SeededSession[],
  send: (session: SeededSession) => Promise<Response>,
): Promise<number[]> {
  const statuses: number[] = [];
  for (let start = 0; start < sessions.length; start += 16) {
    const batch = sessions.slice(start, start + 16).map(async (session) => {
      const response = await send(session);
      await response.body?.cancel();
      return response.status;
    });
    statuses.push(...(await Promise.all(batch)));
  }
  return statuses;
}

/** Polls the index until its clean-up is over; returns the finished run. */
async function cleanupFinished(sub: string): Promise<CleanupRun> {
  const index = await indexOf<IndexObject>(gateway, sub);
  const deadline = Date.now() + CLEANUP_WAIT_MS;
  for (;;) {
    const status = await index.cleanupStatus();
    if (status.running === undefined && status.last !== undefined) return status.last;
    expect(Date.now(), `clean-up still running: ${JSON.stringify(status.running)}`).toBeLessThan(deadline);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function aliveAmong(sessions: readonly SeededSession[]): Promise<string[]> {
  const namespace = await gateway.mf.getDurableObjectNamespace("SESSIONS");
  const alive = await Promise.all(
    sessions.map(async (session) => {
      const object = namespace.get(namespace.idFromName(session.sid)) as unknown as SessionObject;
      return (await object.isAlive({ now: Date.now() })) ? session.sid : undefined;
    }),
  );
  return alive.filter((sid): sid is string => sid !== undefined);
}

/** The clean-up's own counts: every session one call, no alarm invocation over a batch. */
function expectWithinLimits(run: CleanupRun, sessions: number): void {
  expect(run.sessions).toBe(sessions);
  expect(run.calls).toBeGreaterThanOrEqual(sessions);
  expect(run.maxCallsPerAlarm).toBeLessThanOrEqual(CLEANUP_BATCH_SIZE);
  expect(run.maxCallsPerAlarm).toBeLessThan(FREE_PLAN_SUBREQUESTS);
  expect(run.alarms).toBeGreaterThanOrEqual(Math.ceil(sessions / CLEANUP_BATCH_SIZE));
}

describe("sign out everywhere else, with 2,000 sessions", () => {
  it(
    "answers at once; the others are refused at once; the caller's session works; the clean-up ends the rest in bounded batches",
    async () => {
      const sub = "user-many-devices";
      const seedStart = performance.now();
      const sessions = await seedSessions(gateway, sub, SESSIONS);
      console.info(`seeded ${SESSIONS} in ${(performance.now() - seedStart).toFixed(0)} ms`);
      const caller = sessions[Math.floor(SESSIONS / 2)] as SeededSession;
      const others = sessions.filter((session) => session !== caller);

      const started = performance.now();
      const response = await gateway.fetch("/auth/sessions/revoke-others", {
        method: "POST",
        headers: { authorization: `Bearer ${caller.accessToken}` },
      });
      const elapsedMs = performance.now() - started;
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ ended: SESSIONS - 1 });
      expect(elapsedMs).toBeLessThan(AT_ONCE_MS);
      console.info(`revoke-others, ${SESSIONS} sessions: answered in ${elapsedMs.toFixed(0)} ms`);
      // The ten most recently used were ended in the request itself (strict routes ask their objects).
      expect(await aliveAmong(others.slice(-10))).toEqual([]);

      // The list is exact at once: the caller's session alone.
      const listed = await gateway.fetch("/auth/sessions", {
        headers: { authorization: `Bearer ${caller.accessToken}` },
      });
      expect(await listed.json()).toMatchObject({ sessions: [{ id: caller.sid, current: true }], next_cursor: null });

      // At the very next request, while the clean-up is still under way.
      const sampled = sample(others);
      expect(new Set(await statusesOf(sampled, callApi))).toEqual(new Set([401]));
      expect(new Set(await statusesOf(sampled, refresh))).toEqual(new Set([401]));
      expect((await callApi(caller)).status).toBe(200);
      expect((await refresh(caller)).status).toBe(200);

      const run = await cleanupFinished(sub);
      expectWithinLimits(run, SESSIONS - 1);
      console.info(`revoke-others clean-up: ${JSON.stringify(run)}`);
      // Their objects are ended, those no refresh touched too.
      const untouched = sample(
        others.filter((session) => !sampled.includes(session)),
        100,
      );
      expect(await aliveAmong(untouched)).toEqual([]);
      expect(await aliveAmong([caller])).toEqual([caller.sid]);
    },
    TEST_TIMEOUT_MS,
  );
});

describe("the operator's revoke-subject, with 400 sessions", () => {
  it(
    "answers at once; every session is refused at once; the clean-up ends them in bounded batches",
    async () => {
      const sub = "user-breached";
      const sessions = await seedSessions(gateway, sub, SUBJECT_SESSIONS);

      const started = performance.now();
      const response = await gateway.fetch("/auth/operator/revoke-subject", {
        method: "POST",
        headers: OPERATOR,
        body: JSON.stringify({ sub }),
      });
      const elapsedMs = performance.now() - started;
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ revoked: "subject", sub, sessions_ended: SUBJECT_SESSIONS });
      expect(elapsedMs).toBeLessThan(AT_ONCE_MS);
      console.info(`revoke-subject, ${SUBJECT_SESSIONS} sessions: answered in ${elapsedMs.toFixed(0)} ms`);

      const listed = await gateway.fetch(`/auth/operator/sessions?sub=${sub}`, { headers: OPERATOR });
      expect(await listed.json()).toEqual({ sub, sessions: [], next_cursor: null });
      const sampled = sample(sessions);
      expect(new Set(await statusesOf(sampled, callApi))).toEqual(new Set([401]));
      expect(new Set(await statusesOf(sampled, refresh))).toEqual(new Set([401]));

      const run = await cleanupFinished(sub);
      expectWithinLimits(run, SUBJECT_SESSIONS);
      expect(
        await aliveAmong(
          sample(
            sessions.filter((session) => !sampled.includes(session)),
            100,
          ),
        ),
      ).toEqual([]);
      const [done] = await gateway.waitForLog(
        (line) => line.includes('"event":"session_cleanup_done"') && line.includes(sub),
      );
      expect(JSON.parse(done ?? "{}")).toMatchObject({
        sub,
        sessions: SUBJECT_SESSIONS,
        maxCallsPerAlarm: CLEANUP_BATCH_SIZE,
      });
    },
    TEST_TIMEOUT_MS,
  );
});
