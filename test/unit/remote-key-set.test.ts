/**
 * The remote JWKS cache, with an injected clock against a real JWKS server on 127.0.0.1.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GatewayError } from "../../src/errors/gateway-error";
import { RemoteKeySet } from "../../src/tokens/remote-key-set";
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

function freshSet(): RemoteKeySet {
  server.mode = "ok";
  server.keys = [first.publicJwk];
  server.fetches = 0;
  return new RemoteKeySet(server.url, { cacheSeconds: 600, cooldownSeconds: 30, fetcher: fetch });
}

describe("RemoteKeySet", () => {
  it("fetches once and serves keys from the cache while fresh", async () => {
    const set = freshSet();
    expect((await set.get("idp-1", "ES256", 0))?.alg).toBe("ES256");
    expect((await set.get("idp-1", "ES256", 599_000))?.kid).toBe("idp-1");
    expect(server.fetches).toBe(1);
  });

  it("picks up a rotated key on an unknown kid, at most once per cooldown", async () => {
    const set = freshSet();
    await set.get("idp-1", "ES256", 0);
    server.keys = [first.publicJwk, second.publicJwk];
    expect((await set.get("idp-2", "EdDSA", 31_000))?.kid).toBe("idp-2");
    expect(server.fetches).toBe(2);
    for (let index = 0; index < 20; index += 1) {
      expect(await set.get(`random-${index}`, "EdDSA", 32_000 + index)).toBeUndefined();
    }
    expect(server.fetches).toBe(2);
  });

  it.each(["error", "garbage", "empty"] as const)(
    "keeps the last-known-good keys when the provider answers %s",
    async (mode) => {
      const set = freshSet();
      await set.get("idp-1", "ES256", 0);
      server.mode = mode;
      // Stale cache: a refetch is attempted, fails, and the old keys still verify.
      expect((await set.get("idp-1", "ES256", 700_000))?.kid).toBe("idp-1");
      expect(server.fetches).toBe(2);
    },
  );

  it("answers keys_unavailable, not an invalid token, when it never had keys", async () => {
    const set = freshSet();
    server.mode = "error";
    await expect(set.get("idp-1", "ES256", 0)).rejects.toSatisfy(
      (error) => error instanceof GatewayError && error.code === "keys_unavailable",
    );
  });

  it("recovers when the provider comes back", async () => {
    const set = freshSet();
    server.mode = "error";
    await expect(set.get("idp-1", "ES256", 0)).rejects.toThrow();
    server.mode = "ok";
    expect((await set.get("idp-1", "ES256", 31_000))?.kid).toBe("idp-1");
  });

  it("ignores keys whose alg does not match their key type", async () => {
    const set = freshSet();
    server.keys = [{ ...first.publicJwk, alg: "RS256" }, second.publicJwk];
    expect(await set.get("idp-1", "RS256", 0)).toBeUndefined();
    expect((await set.get("idp-2", "EdDSA", 0))?.kid).toBe("idp-2");
  });
});
