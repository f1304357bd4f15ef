/**
 * The rotations of docs/operations.md for the two shared secrets, performed step by step
 * on a live gateway with sessions, each step a deploy of its own that keeps the sessions'
 * storage (test/support/deployment.ts). After every step every session still works (API
 * call, transparent refresh, explicit refresh), logins work, and nothing answers an error.
 *
 * OPERATOR_TOKEN (the gateway checks it): OPERATOR_TOKEN_PREVIOUS keeps the old token
 * working while the operator's automation moves to the new one.
 *
 * CREDENTIAL_CHECK_SECRET (the upstream checks it): no slot at the gateway; the upstream
 * accepts both values for the length of the switch.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Deployment, startDeployment } from "../support/deployment";
import type { Gateway } from "../support/gateway";
import { errorLines, exercise, expiredTokenOf, type LiveSession, liveSession } from "../support/live-sessions";
import { login } from "../support/session-helpers";
import { makeKey, TEST_SECRETS, type TestKey } from "../support/test-keys";
import { CREDENTIAL_CHECK_PATH, TEST_USERS } from "../support/upstream";

let key: TestKey;
beforeAll(async () => {
  key = await makeKey("EdDSA", "rotation-key");
});

async function loggedIn(gateway: Gateway, user: "alice" | "admin"): Promise<LiveSession> {
  const session = await login(gateway, user);
  return liveSession(user, session.accessToken, session.refreshToken);
}

async function everySessionWorks(gateway: Gateway, sessions: LiveSession[]): Promise<void> {
  for (const session of sessions) await exercise(gateway, session, await expiredTokenOf(session, key));
  await gateway.flushLogs();
  expect(errorLines(gateway)).toEqual([]);
}

describe("rotating OPERATOR_TOKEN, step by step (docs/operations.md)", () => {
  const OLD = TEST_SECRETS.OPERATOR_TOKEN;
  const NEW = "the-operator-token-after-the-rotation-0123456789";
  let deployment: Deployment;
  const sessions: LiveSession[] = [];

  /** The operator's automation: lists a subject's sessions with the token it holds. */
  async function operatorCall(gateway: Gateway, token: string): Promise<number> {
    const response = await gateway.fetch("/auth/operator/sessions?sub=user-alice", {
      headers: { authorization: `Bearer ${token}` },
    });
    if (response.status === 200) {
      const { sessions: listed } = (await response.json()) as { sessions: Array<{ id: string }> };
      expect(listed.map((entry) => entry.id)).toContain(sessions[0]?.sid);
    } else {
      await response.body?.cancel();
    }
    return response.status;
  }

  beforeAll(async () => {
    deployment = await startDeployment({ SIGNING_KEYS: JSON.stringify([key.privateJwk]), OPERATOR_TOKEN: OLD });
    sessions.push(await loggedIn(deployment.gateway, "alice"), await loggedIn(deployment.gateway, "admin"));
  });
  afterAll(() => deployment?.close());

  it("1. OPERATOR_TOKEN_PREVIOUS = the current token: nothing changes", async () => {
    const gateway = await deployment.redeploy({ OPERATOR_TOKEN_PREVIOUS: OLD });
    expect(await operatorCall(gateway, OLD)).toBe(200);
    expect(await operatorCall(gateway, NEW)).toBe(401);
    await everySessionWorks(gateway, sessions);
  });

  it("2. OPERATOR_TOKEN = the new token: both work, and a use of the old one is logged", async () => {
    const gateway = await deployment.redeploy({ OPERATOR_TOKEN: NEW });
    expect(await operatorCall(gateway, OLD)).toBe(200);
    await gateway.waitForLog((line) => line.includes('"event":"operator_token_previous_used"'));
    expect(await operatorCall(gateway, NEW)).toBe(200);
    expect(await operatorCall(gateway, "neither-of-the-two-tokens-0123456789abcdef")).toBe(401);
    await everySessionWorks(gateway, sessions);
  });

  it("3. once the automation uses the new token, OPERATOR_TOKEN_PREVIOUS is deleted: the old one is refused", async () => {
    const gateway = await deployment.redeploy({ OPERATOR_TOKEN_PREVIOUS: undefined });
    expect(await operatorCall(gateway, NEW)).toBe(200);
    expect(await operatorCall(gateway, OLD)).toBe(401);
    await everySessionWorks(gateway, sessions);
    expect(gateway.logs.join("\n")).not.toContain(NEW);
  });
});

describe("rotating CREDENTIAL_CHECK_SECRET, step by step (docs/operations.md)", () => {
  const OLD = TEST_SECRETS.CREDENTIAL_CHECK_SECRET;
  const NEW = "the-credential-check-secret-after-the-rotation-01";
  let deployment: Deployment;
  const sessions: LiveSession[] = [];
  /** What the upstream's credential check accepts, and the secrets it was sent. */
  let accepted = new Set<string>([OLD]);
  const presented: string[] = [];

  async function credentialCheck(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = JSON.parse(Buffer.concat(await request.toArray()).toString("utf8") || "{}");
    const secret = String(request.headers["x-portcullis-credential-secret"]);
    presented.push(secret);
    if (!accepted.has(secret)) return void response.writeHead(403).end();
    const user = TEST_USERS[body.username];
    if (!user || user.password !== body.password) return void response.writeHead(401).end();
    response
      .writeHead(200, { "content-type": "application/json" })
      .end(JSON.stringify({ sub: user.sub, scope: user.scope, roles: user.roles }));
  }

  /** A new login works, and the upstream was sent `secret`. */
  async function loginWorks(gateway: Gateway, secret: string): Promise<void> {
    sessions.push(await loggedIn(gateway, "alice"));
    expect(presented.at(-1)).toBe(secret);
  }

  beforeAll(async () => {
    deployment = await startDeployment({ SIGNING_KEYS: JSON.stringify([key.privateJwk]) });
    deployment.upstream.route(CREDENTIAL_CHECK_PATH, credentialCheck);
    sessions.push(await loggedIn(deployment.gateway, "alice"), await loggedIn(deployment.gateway, "admin"));
  });
  afterAll(() => deployment?.close());

  it("1. the upstream accepts the new secret too: nothing changes", async () => {
    accepted = new Set<string>([OLD, NEW]);
    await loginWorks(deployment.gateway, OLD);
    await everySessionWorks(deployment.gateway, sessions);
  });

  it("2. CREDENTIAL_CHECK_SECRET = the new secret: logins send it", async () => {
    const gateway = await deployment.redeploy({ CREDENTIAL_CHECK_SECRET: NEW });
    await loginWorks(gateway, NEW);
    await everySessionWorks(gateway, sessions);
  });

  it("3. the upstream stops accepting the old secret", async () => {
    accepted = new Set<string>([NEW]);
    await loginWorks(deployment.gateway, NEW);
    await everySessionWorks(deployment.gateway, sessions);
    expect(deployment.gateway.logs.join("\n")).not.toContain(NEW);
  });
});
