/**
 * A stale remote JWKS (JWKS_URL) through the bundled Worker: requests whose `kid` the cached
 * set knows never wait for the provider; one refetch runs in the background, outlives the
 * request that started it, and is the only one however many requests arrive.
 *
 * The Worker's clock is the real one and JWKS_CACHE_SECONDS is at least 1, so a test makes
 * the set stale by letting a second pass; the provider is slow by holding its answers.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type Gateway, startGateway } from "../support/gateway";
import { type JwksServer, startJwksServer } from "../support/jwks-server";
import { makeKey, type TestKey } from "../support/test-keys";
import { mintToken } from "../support/tokens";
import { startUpstream, type TestUpstream } from "../support/upstream";

/** The slow provider: well past what a request may spend, well within the Worker's fetch timeout (5 s). */
const PROVIDER_DELAY_MS = 3_000;
/** "At once": far below the provider's delay, generous for a loaded machine. */
const AT_ONCE_MS = 1_000;

let upstream: TestUpstream;
let jwks: JwksServer;
let provider: TestKey;
let rotated: TestKey;
let gateway: Gateway | undefined;

beforeAll(async () => {
  upstream = await startUpstream();
  provider = await makeKey("ES256", "idp-1");
  rotated = await makeKey("ES256", "idp-2");
  jwks = await startJwksServer([provider.publicJwk]);
});
afterAll(async () => {
  await jwks.close();
  await upstream.close();
});
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});

/** A provider's token; each one distinct, so none is answered from the verification cache. */
const tokenOf = (key: TestKey) => mintToken(key, { header: { typ: "JWT" } });

async function timedRequest(token: string): Promise<{ status: number; ms: number }> {
  if (gateway === undefined) throw new Error("no gateway");
  const started = performance.now();
  const response = await gateway.fetch("/api/x", { headers: { authorization: `Bearer ${token}` } });
  await response.body?.cancel();
  return { status: response.status, ms: performance.now() - started };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A gateway whose cached JWKS (idp-1 only) has just gone stale, the cooldown out of the way. */
async function staleGateway(): Promise<Gateway> {
  jwks.mode = "ok";
  jwks.delayMs = 0;
  jwks.keys = [provider.publicJwk];
  jwks.fetches = 0;
  jwks.answered = 0;
  gateway = await startGateway({
    upstream,
    vars: { JWKS_URL: jwks.url, JWKS_CACHE_SECONDS: "1", JWKS_COOLDOWN_SECONDS: "0" },
  });
  expect((await timedRequest(await tokenOf(provider))).status).toBe(200);
  expect(jwks.fetches).toBe(1);
  await new Promise((resolve) => setTimeout(resolve, 1_100));
  return gateway;
}

describe("a stale remote JWKS", () => {
  it("answers tokens whose kid it knows at once while one slow refetch runs in the background", async () => {
    await staleGateway();
    jwks.delayMs = PROVIDER_DELAY_MS;
    jwks.keys = [provider.publicJwk, rotated.publicJwk];
    const tokens = await Promise.all(Array.from({ length: 20 }, () => tokenOf(provider)));

    const answers = await Promise.all(tokens.map(timedRequest));
    expect(answers.map((answer) => answer.status)).toEqual(Array(20).fill(200));
    expect(Math.max(...answers.map((answer) => answer.ms))).toBeLessThan(AT_ONCE_MS);
    expect(jwks.answered).toBe(1);

    await until(() => jwks.answered === 2, "the provider answered the refetch");
    expect(jwks.fetches).toBe(2);
    // The refetch outlived every request above and landed: the rotated key verifies at once
    // (the provider is still slow, so no fetch of this request's own could answer in time).
    const afterwards = await timedRequest(await tokenOf(rotated));
    expect(afterwards.status).toBe(200);
    expect(afterwards.ms).toBeLessThan(AT_ONCE_MS);
  });

  it("makes a token with a new kid wait for the refetch and accepts it once the refetch lands", async () => {
    await staleGateway();
    jwks.delayMs = PROVIDER_DELAY_MS;
    jwks.keys = [provider.publicJwk, rotated.publicJwk];

    // The provider rotated: the first token signed with the new key starts the refetch and waits for it.
    const first = timedRequest(await tokenOf(rotated));
    await until(() => jwks.fetches === 2, "the refetch reached the provider");
    // Meanwhile known kids go through at once; more new-kid tokens wait for the same refetch.
    const [known, joining] = await Promise.all([
      Promise.all((await Promise.all(Array.from({ length: 5 }, () => tokenOf(provider)))).map(timedRequest)),
      Promise.all((await Promise.all(Array.from({ length: 3 }, () => tokenOf(rotated)))).map(timedRequest)),
    ]);
    expect(known.map((answer) => answer.status)).toEqual(Array(5).fill(200));
    expect(Math.max(...known.map((answer) => answer.ms))).toBeLessThan(AT_ONCE_MS);
    expect(joining.map((answer) => answer.status)).toEqual(Array(3).fill(200));
    const waited = await first;
    expect(waited.status).toBe(200);
    expect(waited.ms).toBeGreaterThan(PROVIDER_DELAY_MS - 500);
    expect(jwks.fetches).toBe(2);
  });

  it("keeps verifying with the last-known-good keys when the refetch fails, and does not retry on every request", async () => {
    const stale = await staleGateway();
    jwks.mode = "error";

    const answers = await Promise.all(
      (await Promise.all(Array.from({ length: 20 }, () => tokenOf(provider)))).map(timedRequest),
    );
    expect(answers.map((answer) => answer.status)).toEqual(Array(20).fill(200));
    const failed = await stale.waitForLog((line) => line.includes('"event":"jwks_fetch_failed"'));
    expect(failed[0]).toContain('"keptLastKnownGood":true');

    // With no cooldown configured, still no fetch per request: known kids verify, an unknown one is refused.
    for (let index = 0; index < 10; index += 1) {
      expect((await timedRequest(await tokenOf(provider))).status).toBe(200);
    }
    const stranger = await makeKey("ES256", "idp-3");
    expect((await timedRequest(await tokenOf(stranger))).status).toBe(401);
    expect(jwks.fetches).toBe(2);
  });
});

describe("a cold remote JWKS", () => {
  it("fetches once for 200 concurrent first requests and verifies them all", async () => {
    jwks.mode = "ok";
    jwks.delayMs = 200;
    jwks.keys = [provider.publicJwk];
    jwks.fetches = 0;
    gateway = await startGateway({ upstream, vars: { JWKS_URL: jwks.url } });
    const tokens = await Promise.all(Array.from({ length: 200 }, () => tokenOf(provider)));

    const answers = await Promise.all(tokens.map(timedRequest));
    expect(answers.map((answer) => answer.status)).toEqual(Array(200).fill(200));
    expect(jwks.fetches).toBe(1);
  });
});
