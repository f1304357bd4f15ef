/**
 * The sessions list a page at a time (GET /auth/sessions and the operator's list; the
 * client SDK's side is in client-sessions.test.ts): pages are bounded, the cursors walk every session exactly once, newest
 * first, also while sessions begin and end during the walk, and a `limit` or `cursor` the
 * list does not take is a 400 that names it. Also: an entry whose idle timeout seems past
 * is hidden but kept until the session's absolute expiry, so a mass logout still ends it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Gateway, startGateway } from "../support/gateway";
import {
  indexOf,
  type SeededSession,
  seedSessions,
  sessionSeeder,
  vouchForAnySubject,
} from "../support/seeded-sessions";
import { TEST_SECRETS } from "../support/test-keys";

const OPERATOR = { authorization: `Bearer ${TEST_SECRETS.OPERATOR_TOKEN}` };

interface Listed {
  readonly sessions: { id: string; current?: boolean }[];
  readonly next_cursor: string | null;
}

let gateway: Gateway;

beforeAll(async () => {
  gateway = await startGateway({ vars: { MAX_SESSIONS_PER_USER: "0" }, extraWorkers: [sessionSeeder()] });
  vouchForAnySubject(gateway.upstream);
});
afterAll(() => gateway.close());

async function listPage(session: SeededSession, query = ""): Promise<Listed> {
  const response = await gateway.fetch(`/auth/sessions${query}`, {
    headers: { authorization: `Bearer ${session.accessToken}` },
  });
  expect(response.status, await response.clone().text()).toBe(200);
  return (await response.json()) as Listed;
}

/** Every page from the first, `limit` at a time; `between` runs after each page. */
async function walk(
  fetchPage: (query: string) => Promise<Listed>,
  limit: number,
  between: (pageNumber: number) => Promise<void> = async () => {},
): Promise<Listed[]> {
  const pages: Listed[] = [];
  let cursor: string | null = null;
  do {
    const query: string = `?limit=${limit}${cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`}`;
    const page = await fetchPage(query);
    pages.push(page);
    expect(page.sessions.length).toBeLessThanOrEqual(limit);
    cursor = page.next_cursor;
    await between(pages.length);
    expect(pages.length).toBeLessThan(100);
  } while (cursor !== null);
  return pages;
}

const idsOf = (pages: Listed[]) => pages.flatMap((page) => page.sessions.map((session) => session.id));

describe("GET /auth/sessions, a page at a time", () => {
  it("hands out bounded pages, newest first, whose cursors walk every session once", async () => {
    const seeded = await seedSessions(gateway, "user-pages", 237);
    const caller = seeded[0] as SeededSession;
    const newestFirst = seeded.map((session) => session.sid).reverse();

    const first = await listPage(caller);
    expect(first.sessions.map((session) => session.id)).toEqual(newestFirst.slice(0, 50));
    expect(first.next_cursor).toEqual(expect.any(String));

    const pages = await walk((query) => listPage(caller, query), 100);
    expect(pages.map((page) => page.sessions.length)).toEqual([100, 100, 37]);
    expect(idsOf(pages)).toEqual(newestFirst);
    expect(pages.flatMap((page) => page.sessions.filter((session) => session.current).map((s) => s.id))).toEqual([
      caller.sid,
    ]);
    expect((await listPage(caller, "?limit=1")).sessions).toHaveLength(1);
  });

  it("returns every session that stays listed exactly once while others begin and end during the walk", async () => {
    const sub = "user-churn";
    const seeded = await seedSessions(gateway, sub, 120, 60_000);
    const caller = seeded[119] as SeededSession; // the newest: on the first page
    const newestFirst = seeded.map((session) => session.sid).reverse();
    const endedSeen = newestFirst.slice(5, 7);
    const endedUnseen = newestFirst.slice(60, 65);
    let added: SeededSession[] = [];

    const pages = await walk(
      (query) => listPage(caller, query),
      25,
      async (pageNumber) => {
        if (pageNumber !== 1) return;
        for (const sid of [...endedSeen, ...endedUnseen]) {
          const ended = await gateway.fetch(`/auth/sessions/${sid}`, {
            method: "DELETE",
            headers: { authorization: `Bearer ${caller.accessToken}` },
          });
          expect(ended.status).toBe(204);
        }
        added = await seedSessions(gateway, sub, 10, 0);
      },
    );
    const walked = idsOf(pages);
    expect(new Set(walked).size).toBe(walked.length);
    expect(walked).toEqual(newestFirst.filter((sid) => !endedUnseen.includes(sid)));
    for (const session of added) expect(walked).not.toContain(session.sid);
    // A new walk sees the new sessions and not the ended ones.
    const again = idsOf(await walk((query) => listPage(caller, query), 100));
    expect(again).toHaveLength(120 - 7 + 10);
    for (const sid of [...endedSeen, ...endedUnseen]) expect(again).not.toContain(sid);
  });

  it("refuses a limit or a cursor it does not take with a 400 naming it, after authentication", async () => {
    const [caller] = (await seedSessions(gateway, "user-bad-pages", 3)) as [SeededSession];
    const badCursor = Buffer.from("12.not-a-session").toString("base64url");
    const cases: [string, RegExp][] = [
      ["?limit=0", /"limit"/],
      ["?limit=101", /"limit"/],
      ["?limit=-1", /"limit"/],
      ["?limit=1.5", /"limit"/],
      ["?limit=ten", /"limit"/],
      ["?limit=", /"limit"/],
      ["?limit=050", /"limit"/],
      ["?limit=1&limit=2", /"limit"/],
      ["?cursor=", /"cursor"/],
      ["?cursor=%E2%9C%93", /"cursor"/],
      ["?cursor=not-one-of-ours", /"cursor"/],
      [`?cursor=${badCursor}`, /"cursor"/],
      [`?cursor=${"A".repeat(200)}`, /"cursor"/],
      ["?cursor=a&cursor=b", /"cursor"/],
    ];
    for (const [query, names] of cases) {
      const response = await gateway.fetch(`/auth/sessions${query}`, {
        headers: { authorization: `Bearer ${caller.accessToken}` },
      });
      expect(response.status, query).toBe(400);
      expect(response.headers.get("content-type")).toBe("application/problem+json");
      const problem = (await response.json()) as { status: number; error: string; detail: string };
      expect(problem, query).toMatchObject({
        status: 400,
        error: "invalid_request",
        detail: expect.stringMatching(names),
      });
    }
    // Without a token, the answer is about the token, whatever the query.
    expect((await gateway.fetch("/auth/sessions?limit=0")).status).toBe(401);
    expect((await listPage(caller)).sessions).toHaveLength(3);
  });

  it("hides a session whose idle timeout seems past, and still ends it in a mass logout", async () => {
    const sub = "user-idle";
    const seeded = await seedSessions(gateway, sub, 3);
    const index = await indexOf<{
      page(input: { now: number; limit: number }): Promise<{ entries: { sid: string }[] }>;
      endAll(input: Record<string, unknown>): Promise<{ ended: number; exact: boolean }>;
      cleanupStatus(): Promise<{ running?: unknown }>;
    }>(gateway, sub);
    const pastIdle = Date.now() + 8 * 86_400_000; // SESSION_IDLE_TTL 7 d, REFRESH_TOKEN_TTL 30 d
    expect((await index.page({ now: pastIdle, limit: 100 })).entries).toEqual([]);
    expect((await index.page({ now: Date.now(), limit: 100 })).entries).toHaveLength(3);
    const ending = await index.endAll({ sub, reason: "test", now: pastIdle, refreshTtlSeconds: 2_592_000 });
    // A fresh index cannot vouch for sessions it never saw, until a refresh-token lifetime has passed.
    expect(ending).toMatchObject({ ended: 3, exact: false });
    for (let polls = 0; (await index.cleanupStatus()).running !== undefined; polls++) {
      expect(polls, "the clean-up of 3 sessions").toBeLessThan(500);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const afterLifetime = await index.endAll({
      sub,
      reason: "test",
      now: Date.now() + 31 * 86_400_000,
      refreshTtlSeconds: 2_592_000,
    });
    expect(afterLifetime).toMatchObject({ ended: 0, exact: true });
    expect(seeded).toHaveLength(3);
  });
});

describe("the operator's list", () => {
  it("pages the same way, and refuses a bad limit", async () => {
    const sub = "user-operator-pages";
    const seeded = await seedSessions(gateway, sub, 130);
    const pages = await walk(async (query) => {
      const response = await gateway.fetch(`/auth/operator/sessions${query}&sub=${sub}`, { headers: OPERATOR });
      expect(response.status).toBe(200);
      return (await response.json()) as Listed;
    }, 60);
    expect(pages.map((page) => page.sessions.length)).toEqual([60, 60, 10]);
    expect(idsOf(pages)).toEqual(seeded.map((session) => session.sid).reverse());
    const bad = await gateway.fetch(`/auth/operator/sessions?sub=${sub}&limit=500`, { headers: OPERATOR });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { detail: string }).detail).toMatch(/"limit"/);
  });
});
