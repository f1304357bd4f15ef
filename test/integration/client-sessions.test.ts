/**
 * portcullis/client against the real gateway: the SDK lists the user's sessions (every
 * page, or one at a time), signs out the others and ends its own. (Type-checked with the
 * DOM types, tsconfig.node.json.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPortcullisClient, PortcullisClientError } from "../../src/client";
import { type Gateway, startGateway } from "../support/gateway";
import { ANY_SUBJECT_PASSWORD, seedSessions, sessionSeeder, vouchForAnySubject } from "../support/seeded-sessions";
import { login } from "../support/session-helpers";
import { TEST_USERS } from "../support/upstream";

let gateway: Gateway;

beforeAll(async () => {
  gateway = await startGateway();
});
afterAll(() => gateway.close());

function callApi(accessToken: string): Promise<Response> {
  return gateway.fetch("/api/things", { headers: { authorization: `Bearer ${accessToken}` } });
}

describe("portcullis/client", () => {
  it("lists the sessions, signs out the others, and ends its own", async () => {
    const other = await login(gateway, "alice");
    const ended: string[] = [];
    const client = createPortcullisClient({
      gatewayUrl: gateway.url,
      crossTab: false,
      onSessionEnded: (reason) => ended.push(reason),
    });
    await client.login("alice", TEST_USERS.alice?.password ?? "");
    const sessions = await client.listSessions();
    expect(sessions.find((session) => session.current)?.id).toBe(client.sessionId);
    expect(sessions.map((session) => session.id)).toContain(other.claims.sid);
    expect(sessions.find((session) => session.current)).toMatchObject({ loginMethod: "password", device: "Node.js" });

    expect(await client.endOtherSessions()).toBeGreaterThanOrEqual(1);
    expect((await client.listSessions()).map((session) => session.id)).toEqual([client.sessionId]);
    expect((await callApi(other.accessToken)).status).toBe(401);

    const notMine = await client.endSession("AAAAAAAAAAAAAAAAAAAAAA").catch((error: unknown) => error);
    expect(notMine).toBeInstanceOf(PortcullisClientError);
    expect((notMine as PortcullisClientError).code).toBe("session_not_found");

    await client.endSession(client.sessionId ?? "");
    expect(client.isAuthenticated).toBe(false);
    expect(ended).toEqual(["logout"]);
    client.close();
  });
});

describe("portcullis/client, a list of more than one page", () => {
  let paged: Gateway;
  beforeAll(async () => {
    paged = await startGateway({ vars: { MAX_SESSIONS_PER_USER: "0" }, extraWorkers: [sessionSeeder()] });
    vouchForAnySubject(paged.upstream);
  });
  afterAll(() => paged?.close());

  it("lists every session by following the cursors, or one page at a time", async () => {
    const seeded = await seedSessions(paged, "user-sdk-pages", 150);
    const client = createPortcullisClient({ gatewayUrl: paged.url, crossTab: false });
    await client.login("sdk-pages", ANY_SUBJECT_PASSWORD);
    const all = await client.listSessions();
    expect(all).toHaveLength(151);
    expect(all[0]).toMatchObject({ id: client.sessionId, current: true });
    expect(all.slice(1).map((session) => session.id)).toEqual(seeded.map((session) => session.sid).reverse());

    const first = await client.listSessionsPage({ limit: 100 });
    expect(first.sessions).toHaveLength(100);
    const second = await client.listSessionsPage({ limit: 100, cursor: first.nextCursor as string });
    expect(second.sessions).toHaveLength(51);
    expect(second.nextCursor).toBeUndefined();
    expect((await client.listSessionsPage()).sessions).toHaveLength(50);
    client.close();
  });
});
