/**
 * The signing-key rotation of docs/operations.md, performed step by step on a live gateway
 * with sessions, each step a deploy of its own (test/support/deployment.ts) that keeps the
 * sessions' storage. After every step each session still works (an API call with its
 * token, a transparent refresh, an explicit refresh) and nothing answers an error:
 *
 *   1. the published JWKS goes into SIGNING_KEYS_PREVIOUS (no private key needed)
 *   2. `npm run keygen`'s new key goes into SIGNING_KEYS alone: it signs at once, the old
 *      key's tokens still verify
 *   3. after ACCESS_TOKEN_TTL, SIGNING_KEYS_PREVIOUS is deleted: a client still holding a
 *      token of the old key is refreshed through its refresh cookie
 *
 * Then the deploy-order outage: ACTIVE_SIGNING_KID (a var) and SIGNING_KEYS (a secret)
 * deploy apart, and a kid the var names but the secret lacks no longer takes the gateway
 * down: the first key signs and one error-level line says so.
 */
import { execFileSync } from "node:child_process";
import path from "node:path";
import type { JWK } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../support/build-worker";
import { type Deployment, startDeployment } from "../support/deployment";
import type { Gateway } from "../support/gateway";
import {
  errorLines,
  exercise,
  expiredTokenOf,
  kidOf,
  type LiveSession,
  liveSession,
  testKeyOf,
} from "../support/live-sessions";
import { login } from "../support/session-helpers";
import { makeKey, type TestKey } from "../support/test-keys";

/** `npm run -s keygen`: the new SIGNING_KEYS on stdout. */
function keygen(): string {
  return execFileSync(process.execPath, [path.join(ROOT, "scripts/keygen.mjs")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  }).trim();
}

async function publishedKids(gateway: Gateway): Promise<string[]> {
  const jwks = (await (await gateway.fetch("/.well-known/jwks.json")).json()) as { keys: JWK[] };
  for (const key of jwks.keys) expect(key).not.toHaveProperty("d");
  return jwks.keys.map((key) => String(key.kid));
}

async function loggedIn(gateway: Gateway, user: "alice" | "admin"): Promise<LiveSession> {
  const session = await login(gateway, user);
  return liveSession(user, session.accessToken, session.refreshToken);
}

/** Every session works, its expired tokens signed with `expiredWith`; the gateway logged no error. */
async function everySessionWorks(gateway: Gateway, sessions: LiveSession[], expiredWith: TestKey): Promise<void> {
  for (const session of sessions) await exercise(gateway, session, await expiredTokenOf(session, expiredWith));
  await gateway.flushLogs();
  expect(errorLines(gateway)).toEqual([]);
}

describe("rotating the signing key, step by step (docs/operations.md)", () => {
  let deployment: Deployment;
  let oldKey: TestKey;
  let newKey: TestKey;
  const sessions: LiveSession[] = [];

  beforeAll(async () => {
    oldKey = await makeKey("EdDSA", "2026-01-old");
    deployment = await startDeployment({ SIGNING_KEYS: JSON.stringify([oldKey.privateJwk]) });
    sessions.push(await loggedIn(deployment.gateway, "alice"), await loggedIn(deployment.gateway, "admin"));
  });
  afterAll(() => deployment?.close());

  it("1. SIGNING_KEYS_PREVIOUS from the published JWKS: nothing changes", async () => {
    const jwks = await (await deployment.gateway.fetch("/.well-known/jwks.json")).text();
    const gateway = await deployment.redeploy({ SIGNING_KEYS_PREVIOUS: jwks });
    expect(await publishedKids(gateway)).toEqual(["2026-01-old"]);
    await everySessionWorks(gateway, sessions, oldKey);
    expect(kidOf((await login(gateway)).accessToken)).toBe("2026-01-old");
  });

  it("2. a new key from npm run keygen in SIGNING_KEYS: it signs at once, the old key's tokens still verify", async () => {
    const heldTokens = sessions.map((session) => session.accessToken);
    const generated = keygen();
    newKey = await testKeyOf((JSON.parse(generated) as JWK[])[0] as JWK);
    const gateway = await deployment.redeploy({ SIGNING_KEYS: generated });
    expect(await publishedKids(gateway)).toEqual([newKey.privateJwk.kid, "2026-01-old"]);
    // A client that only holds its (unexpired) token of the old key, no cookie: still served.
    for (const token of heldTokens) {
      expect(kidOf(token)).toBe("2026-01-old");
      expect((await gateway.fetch("/api/held", { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    }
    await everySessionWorks(gateway, sessions, oldKey);
    for (const session of sessions) expect(kidOf(session.accessToken)).toBe(newKey.privateJwk.kid);
    expect(kidOf((await login(gateway)).accessToken)).toBe(newKey.privateJwk.kid);
  });

  it("3. SIGNING_KEYS_PREVIOUS deleted: a token of the old key is refreshed through the refresh cookie", async () => {
    const gateway = await deployment.redeploy({ SIGNING_KEYS_PREVIOUS: undefined });
    expect(await publishedKids(gateway)).toEqual([newKey.privateJwk.kid]);
    // A client coming back with a token of the retired key (expired by now) and its cookie.
    await everySessionWorks(gateway, sessions, oldKey);
    // And one with a token of the new key, as every client will have from now on.
    await everySessionWorks(gateway, sessions, newKey);
    await gateway.waitForLog((line) => line.includes('"event":"retired_key_refreshed"'), sessions.length);
  });
});

describe("ACTIVE_SIGNING_KID and SIGNING_KEYS deployed apart", () => {
  let deployment: Deployment;
  let first: TestKey;
  let second: TestKey;
  let third: TestKey;
  let session: LiveSession;

  const fallbackLines = (gateway: Gateway) =>
    errorLines(gateway).filter((line) => line.includes('"event":"signing_key_fallback"'));

  beforeAll(async () => {
    [first, second, third] = await Promise.all([
      makeKey("EdDSA", "k1"),
      makeKey("EdDSA", "k2"),
      makeKey("ES256", "k3"),
    ]);
    deployment = await startDeployment({ SIGNING_KEYS: JSON.stringify([first.privateJwk]), ACTIVE_SIGNING_KID: "k1" });
    session = await loggedIn(deployment.gateway, "alice");
  });
  afterAll(() => deployment?.close());

  it("SIGNING_KEYS no longer holds the key the var names: the first key signs, logged at error level, no outage", async () => {
    const jwks = await (await deployment.gateway.fetch("/.well-known/jwks.json")).text();
    await deployment.redeploy({ SIGNING_KEYS_PREVIOUS: jwks });
    const gateway = await deployment.redeploy({ SIGNING_KEYS: JSON.stringify([second.privateJwk]) });
    expect(
      (await gateway.fetch("/api/x", { headers: { authorization: `Bearer ${session.accessToken}` } })).status,
    ).toBe(200);
    await exercise(gateway, session, await expiredTokenOf(session, first));
    expect(kidOf(session.accessToken)).toBe("k2");
    expect(kidOf((await login(gateway)).accessToken)).toBe("k2");
    const [line] = await gateway.waitForLog((text) => text.includes('"event":"signing_key_fallback"'));
    expect(JSON.parse(line as string)).toMatchObject({
      level: "error",
      setting: "ACTIVE_SIGNING_KID",
      configured: "k1",
      signingWith: "k2",
    });
    expect(line).not.toContain(String(second.privateJwk.d));

    // The var's own deploy ends it.
    const fixed = await deployment.redeploy({ ACTIVE_SIGNING_KID: undefined });
    await exercise(fixed, session, await expiredTokenOf(session, second));
    await fixed.flushLogs();
    expect(errorLines(fixed)).toEqual([]);
  });

  it("the var names a key SIGNING_KEYS does not hold yet: the first key signs until the secret arrives", async () => {
    const early = await deployment.redeploy({ ACTIVE_SIGNING_KID: "k3" });
    await exercise(early, session, await expiredTokenOf(session, second));
    expect(kidOf(session.accessToken)).toBe("k2");
    await early.waitForLog((line) => line.includes('"event":"signing_key_fallback"'));

    const jwks = await (await early.fetch("/.well-known/jwks.json")).text();
    await deployment.redeploy({ SIGNING_KEYS_PREVIOUS: jwks });
    const arrived = await deployment.redeploy({ SIGNING_KEYS: JSON.stringify([third.privateJwk]) });
    await exercise(arrived, session, await expiredTokenOf(session, second));
    expect(kidOf(session.accessToken)).toBe("k3");
    await arrived.flushLogs();
    expect(fallbackLines(arrived)).toEqual([]);
  });
});
