/**
 * The remote JWKS cache, with an injected clock against a real JWKS server on 127.0.0.1.
 * Background refetches are handed to an injected waitUntil, so a test can wait for them.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GatewayError } from "../../src/errors/gateway-error";
import { RETRY_AFTER_FAILURE_MS, RemoteKeySet, type RemoteKeySetOptions } from "../../src/tokens/remote-key-set";
import { type JwksServer, startJwksServer } from "../support/jwks-server";
import { makeKey, type TestKey } from "../support/test-keys";

let server: JwksServer;
let first: TestKey;
let second: TestKey;

beforeAll(async () => {
  first = await makeKey("ES256", "idp-1");
  second = await makeKey("EdDSA", "idp-2");
  server = await startJwksServer([first.publicJwk]);
});
afterAll(() => server.close());

/** Past JWKS_CACHE_SECONDS (600 s) after a fetch at 0. */
const STALE = 700_000;

interface TestSet {
  readonly set: RemoteKeySet;
  /** Resolves once every refetch handed to waitUntil so far has settled. */
  background(): Promise<void>;
}

function freshSet(options: Partial<RemoteKeySetOptions> = {}): TestSet {
  server.mode = "ok";
  server.keys = [first.publicJwk];
  server.delayMs = 0;
  server.fetches = 0;
  server.answered = 0;
  const pending: Promise<unknown>[] = [];
  const set = new RemoteKeySet(server.url, {
    cacheSeconds: 600,
    cooldownSeconds: 30,
    fetcher: fetch,
    waitUntil: (promise) => pending.push(promise),
    ...options,
  });
  return { set, background: async () => void (await Promise.all(pending)) };
}

const elapsed = async (work: () => Promise<unknown>): Promise<number> => {
  const started = performance.now();
  await work();
  return performance.now() - started;
};

describe("RemoteKeySet", () => {
  it("fetches once and serves keys from the cache while fresh", async () => {
    const { set } = freshSet();
    expect((await set.get("idp-1", "ES256", 0))?.alg).toBe("ES256");
    expect((await set.get("idp-1", "ES256", 599_000))?.kid).toBe("idp-1");
    expect(server.fetches).toBe(1);
  });

  it("picks up a rotated key on an unknown kid, at most once per cooldown", async () => {
    const { set } = freshSet();
    await set.get("idp-1", "ES256", 0);
    server.keys = [first.publicJwk, second.publicJwk];
    expect((await set.get("idp-2", "EdDSA", 31_000))?.kid).toBe("idp-2");
    expect(server.fetches).toBe(2);
    for (let index = 0; index < 20; index += 1) {
      expect(await set.get(`random-${index}`, "EdDSA", 32_000 + index)).toBeUndefined();
    }
    expect(server.fetches).toBe(2);
  });

  it("answers a known kid at once from a stale set while one slow refetch runs in the background", async () => {
    const { set, background } = freshSet();
    await set.get("idp-1", "ES256", 0);
    server.delayMs = 1_000;
    server.keys = [first.publicJwk, second.publicJwk];
    const took = await elapsed(() =>
      Promise.all(Array.from({ length: 50 }, (_, index) => set.get("idp-1", "ES256", STALE + index))),
    );
    expect(took).toBeLessThan(500);
    expect(server.answered).toBe(1);
    await background();
    expect(server.fetches).toBe(2);
    // The refetch landed: the rotated key is known without another fetch.
    expect((await set.get("idp-2", "EdDSA", STALE + 1_000))?.kid).toBe("idp-2");
    expect(server.fetches).toBe(2);
  });

  it("makes an unknown kid wait for the refetch another request started, and finds it there", async () => {
    const { set } = freshSet();
    await set.get("idp-1", "ES256", 0);
    server.delayMs = 300;
    server.keys = [first.publicJwk, second.publicJwk];
    await set.get("idp-1", "ES256", STALE);
    const rotated = await Promise.all(Array.from({ length: 10 }, () => set.get("idp-2", "EdDSA", STALE + 1)));
    expect(rotated.map((key) => key?.kid)).toEqual(Array(10).fill("idp-2"));
    expect(server.fetches).toBe(2);
  });

  it("waits for a refetch at most its timeout, then answers as if the kid were unknown", async () => {
    const { set, background } = freshSet({ fetchTimeoutMs: 200 });
    await set.get("idp-1", "ES256", 0);
    server.delayMs = 1_000;
    server.keys = [first.publicJwk, second.publicJwk];
    await set.get("idp-1", "ES256", STALE);
    let found: unknown = "pending";
    const took = await elapsed(async () => {
      found = await set.get("idp-2", "EdDSA", STALE + 1);
    });
    expect(found).toBeUndefined();
    expect(took).toBeGreaterThanOrEqual(150);
    expect(took).toBeLessThan(900);
    await background();
    expect((await set.get("idp-1", "ES256", STALE + 2))?.kid).toBe("idp-1");
  });

  it("starts over once a refetch cancelled with its request (one that never settles) is past its timeout", async () => {
    let cancelled = false;
    const { set } = freshSet({
      cooldownSeconds: 0,
      fetchTimeoutMs: 100,
      fetcher: (input, init) => (cancelled ? new Promise<Response>(() => undefined) : fetch(input, init)),
    });
    await set.get("idp-1", "ES256", 0);
    cancelled = true;
    server.keys = [first.publicJwk, second.publicJwk];
    await set.get("idp-1", "ES256", STALE);
    // Waits its bound for the refetch that never lands, then answers as for an unknown kid.
    expect(await set.get("idp-2", "EdDSA", STALE + 1)).toBeUndefined();
    cancelled = false;
    expect((await set.get("idp-2", "EdDSA", STALE + 1_101))?.kid).toBe("idp-2");
  });

  it.each(["error", "garbage", "empty"] as const)(
    "keeps the last-known-good keys when the provider answers %s",
    async (mode) => {
      const { set, background } = freshSet();
      await set.get("idp-1", "ES256", 0);
      server.mode = mode;
      // Stale cache: a refetch is attempted, fails, and the old keys still verify.
      expect((await set.get("idp-1", "ES256", STALE))?.kid).toBe("idp-1");
      await background();
      expect((await set.get("idp-1", "ES256", STALE + 1))?.kid).toBe("idp-1");
      expect(server.fetches).toBe(2);
    },
  );

  it("retries a failed refetch after a pause, not on every request, even with no cooldown", async () => {
    const { set, background } = freshSet({ cooldownSeconds: 0 });
    await set.get("idp-1", "ES256", 0);
    server.mode = "error";
    await set.get("idp-1", "ES256", STALE);
    await background();
    for (let offset = 1; offset < RETRY_AFTER_FAILURE_MS; offset += 250) {
      expect((await set.get("idp-1", "ES256", STALE + offset))?.kid).toBe("idp-1");
      expect(await set.get("random", "ES256", STALE + offset)).toBeUndefined();
    }
    expect(server.fetches).toBe(2);
    server.mode = "ok";
    server.keys = [first.publicJwk, second.publicJwk];
    await set.get("idp-1", "ES256", STALE + RETRY_AFTER_FAILURE_MS);
    await background();
    expect(server.fetches).toBe(3);
    expect((await set.get("idp-2", "EdDSA", STALE + RETRY_AFTER_FAILURE_MS + 1))?.kid).toBe("idp-2");
  });

  it("fetches once for many concurrent requests on a cold start, and they all get the key", async () => {
    const { set } = freshSet();
    server.delayMs = 100;
    const keys = await Promise.all(Array.from({ length: 200 }, (_, index) => set.get("idp-1", "ES256", index)));
    expect(keys.every((key) => key?.kid === "idp-1")).toBe(true);
    expect(server.fetches).toBe(1);
  });

  it("answers keys_unavailable, not an invalid token, when it never had keys", async () => {
    const { set } = freshSet();
    server.mode = "error";
    await expect(set.get("idp-1", "ES256", 0)).rejects.toSatisfy(
      (error) => error instanceof GatewayError && error.code === "keys_unavailable",
    );
  });

  it("recovers when the provider comes back", async () => {
    const { set } = freshSet();
    server.mode = "error";
    await expect(set.get("idp-1", "ES256", 0)).rejects.toThrow();
    server.mode = "ok";
    expect((await set.get("idp-1", "ES256", 31_000))?.kid).toBe("idp-1");
  });

  it("ignores keys whose alg does not match their key type", async () => {
    const { set } = freshSet();
    server.keys = [{ ...first.publicJwk, alg: "RS256" }, second.publicJwk];
    expect(await set.get("idp-1", "RS256", 0)).toBeUndefined();
    expect((await set.get("idp-2", "EdDSA", 0))?.kid).toBe("idp-2");
  });
});
