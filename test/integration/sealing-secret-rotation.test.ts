/**
 * The OIDC_SEALING_SECRET rotation of docs/operations.md, performed step by step on a live
 * gateway with OpenID Connect sessions (their provider tokens sealed in the session
 * objects) and a password session, each step a deploy that keeps the storage:
 *
 *   1. OIDC_SEALING_SECRET_PREVIOUS = the current secret (equal: harmless, not an error)
 *   2. OIDC_SEALING_SECRET = a new secret: each session's seal is sealed anew with it at
 *      the session's next refresh, whether or not the provider is asked
 *   3. after SESSION_IDLE_TTL, OIDC_SEALING_SECRET_PREVIOUS is deleted: every session that
 *      refreshed since step 2 works on, at the provider too; one idle all that time could
 *      not have refreshed any more anyway
 *
 * After every step every session works (API call, transparent refresh, explicit refresh),
 * a new login works, and nothing answers an error.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Gateway } from "../support/gateway";
import { errorLines, exercise, expiredTokenOf, type LiveSession, liveSession } from "../support/live-sessions";
import { type OidcDeployment, oidcSession, startOidcDeployment } from "../support/oidc-deployment";
import { TEST_SEALING_SECRET } from "../support/oidc-gateway";
import { login } from "../support/session-helpers";
import { makeKey, type TestKey } from "../support/test-keys";

const NEW_SECRET = "the-sealing-secret-after-the-rotation-0123456789";
const IDLE_SECONDS = 86_400;

let key: TestKey;
let setup: OidcDeployment;
/** Sessions in use throughout; `idle` logged in before the rotation and was never used again. */
const sessions: LiveSession[] = [];
let idle: LiveSession;
let secretChangedAt: number;

/** The session's own object (the Worker's clock cannot be moved, the object's input can). */
async function sessionObject(gateway: Gateway, sid: string) {
  const namespace = await gateway.mf.getDurableObjectNamespace("SESSIONS");
  return namespace.get(namespace.idFromName(sid)) as unknown as {
    rotate(input: {
      token: string;
      now: number;
      graceSeconds: number;
    }): Promise<{ ok: boolean; reason?: string; refreshToken?: string }>;
  };
}

async function everySessionWorks(gateway: Gateway): Promise<void> {
  for (const session of sessions) await exercise(gateway, session, await expiredTokenOf(session, key));
  await gateway.flushLogs();
  expect(errorLines(gateway)).toEqual([]);
}

beforeAll(async () => {
  key = await makeKey("EdDSA", "sealing-rotation");
  setup = await startOidcDeployment({
    SIGNING_KEYS: JSON.stringify([key.privateJwk]),
    SESSION_IDLE_TTL: String(IDLE_SECONDS),
  });
  const { gateway } = setup.deployment;
  const password = await login(gateway);
  sessions.push(
    await oidcSession(gateway, "alice"),
    await oidcSession(gateway, "bob"),
    liveSession("password alice", password.accessToken, password.refreshToken),
  );
  idle = await oidcSession(gateway, "carol");
});
afterAll(() => setup?.close());

describe("rotating OIDC_SEALING_SECRET, step by step (docs/operations.md)", () => {
  it("1. OIDC_SEALING_SECRET_PREVIOUS = the current secret: nothing changes", async () => {
    const gateway = await setup.deployment.redeploy({ OIDC_SEALING_SECRET_PREVIOUS: TEST_SEALING_SECRET });
    await everySessionWorks(gateway);
  });

  it("2. OIDC_SEALING_SECRET = a new secret: each session is sealed anew at its next refresh", async () => {
    secretChangedAt = Date.now();
    const gateway = await setup.deployment.redeploy({ OIDC_SEALING_SECRET: NEW_SECRET });
    const providerRefreshes = setup.idp.countTokenRequests("refresh_token");
    await everySessionWorks(gateway);
    // Without asking the provider: its tokens were fresh, the seal alone was renewed.
    expect(setup.idp.countTokenRequests("refresh_token")).toBe(providerRefreshes);
    for (const session of sessions.filter((each) => each.name.startsWith("oidc"))) {
      await gateway.waitForLog((line) => line.includes('"event":"idp_tokens_resealed"') && line.includes(session.sid));
    }
    // A login begun now is sealed with the new secret, and stays in use from here on.
    sessions.push(await oidcSession(gateway, "dave"));
  });

  it("3. OIDC_SEALING_SECRET_PREVIOUS deleted: every session that refreshed since works on, at the provider too", async () => {
    const gateway = await setup.deployment.redeploy({ OIDC_SEALING_SECRET_PREVIOUS: undefined });
    await everySessionWorks(gateway);
    // An hour on, the provider's access token has expired: the rotation refreshes it there,
    // with the provider's refresh token from the renewed seal.
    const [alice] = sessions;
    if (alice === undefined) throw new Error("no session");
    const providerRefreshes = setup.idp.countTokenRequests("refresh_token", "ok");
    const rotated = await (await sessionObject(gateway, alice.sid)).rotate({
      token: alice.refreshToken,
      now: Date.now() + 3_600_000,
      graceSeconds: 10,
    });
    expect(rotated).toMatchObject({ ok: true });
    expect(setup.idp.countTokenRequests("refresh_token", "ok")).toBe(providerRefreshes + 1);
    expect(setup.idp.countTokenRequests("refresh_token", "error")).toBe(0);
  });

  it("a session idle since before the new secret cannot refresh once SESSION_IDLE_TTL has passed anyway", async () => {
    const { gateway } = setup.deployment;
    const afterIdle = secretChangedAt + IDLE_SECONDS * 1000 + 1000;
    const refused = await (await sessionObject(gateway, idle.sid)).rotate({
      token: idle.refreshToken,
      now: afterIdle,
      graceSeconds: 10,
    });
    // Refused for its idle time, before its seal is even opened: the previous secret is no longer needed for it.
    expect(refused).toMatchObject({ ok: false, reason: "expired" });
  });
});
