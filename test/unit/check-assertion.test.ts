/**
 * createAssertionChecker (portcullis/assertion), on assertions the gateway's own minting
 * code signs, with the clock handed in: what it accepts, and the code of each refusal.
 */
import { createLocalJWKSet, exportJWK, generateKeyPair, type JWK } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { type AssertionRefusal, AssertionRefusedError, createAssertionChecker } from "../../src/assertion";
import type { AccessTokenClaims } from "../../src/tokens/access-token-claims";
import type { SigningKey } from "../../src/tokens/key-ring";
import { mintUpstreamAssertion } from "../../src/tokens/upstream-assertion";
import { freePort } from "../support/free-port";

const ISSUER = "https://gateway.test";
const AUDIENCE = "https://billing.internal";
const NOW = 1_900_000_000_000;

const claims = Object.freeze({
  sub: "user-1",
  sid: "s1",
  scopes: new Set(["read", "write"]),
  roles: new Set(["clerk"]),
  jkt: undefined,
  payload: {},
}) as unknown as AccessTokenClaims;

let signer: SigningKey;
let publicJwk: JWK;
beforeAll(async () => {
  const { privateKey, publicKey } = await generateKeyPair("EdDSA");
  signer = { key: privateKey, alg: "EdDSA", kid: "k1" };
  publicJwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "EdDSA" };
});

const mint = (method: string, path: string, audience = AUDIENCE) =>
  mintUpstreamAssertion(claims, method, path, signer, {
    issuer: ISSUER,
    audience,
    ttlSeconds: 60,
    claims: [],
    now: NOW,
  });

const checker = (now = NOW) =>
  createAssertionChecker({
    keys: createLocalJWKSet({ keys: [publicJwk] }),
    issuer: ISSUER,
    audience: AUDIENCE,
    now: () => now,
  });

async function refusal(promise: Promise<unknown>): Promise<AssertionRefusal | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(AssertionRefusedError);
    return (error as AssertionRefusedError).code;
  }
}

describe("createAssertionChecker", () => {
  it("accepts the request it was made for, given as a request-target or an absolute URL, query ignored", async () => {
    const assertion = await mint("GET", "/billing/a%2Fb");
    const check = checker();
    const caller = await check(assertion, "GET", "/billing/a%2Fb?page=2");
    expect(caller).toMatchObject({ sub: "user-1", sid: "s1", jkt: undefined });
    expect([...caller.scopes]).toEqual(["read", "write"]);
    expect([...caller.roles]).toEqual(["clerk"]);
    expect((await check(assertion, "GET", "http://billing.internal:8080/billing/a%2Fb")).sub).toBe("user-1");
  });

  it("refuses another path, method or spelling of the path as wrong_request", async () => {
    const assertion = await mint("GET", "/billing/a%2Fb");
    const check = checker();
    expect(await refusal(check(assertion, "GET", "/billing/a/b"))).toBe("wrong_request");
    expect(await refusal(check(assertion, "DELETE", "/billing/a%2Fb"))).toBe("wrong_request");
    expect(await refusal(check(assertion, "GET", "/Billing/a%2Fb"))).toBe("wrong_request");
  });

  it("refuses an assertion for another audience as invalid, before comparing the request", async () => {
    expect(await refusal(checker()(await mint("GET", "/x", "https://ledger.internal"), "GET", "/x"))).toBe("invalid");
  });

  it("refuses an absent header as missing, and an assertion past its exp and the leeway as expired", async () => {
    expect(await refusal(checker()(undefined, "GET", "/x"))).toBe("missing");
    expect(await refusal(checker()("", "GET", "/x"))).toBe("missing");
    const assertion = await mint("GET", "/x");
    expect((await checker(NOW + 64_000)(assertion, "GET", "/x")).sub).toBe("user-1");
    expect(await refusal(checker(NOW + 66_000)(assertion, "GET", "/x"))).toBe("expired");
  });

  it("answers keys_unavailable when the JWKS cannot be fetched", async () => {
    // A loopback port nothing listens on: the connection is refused at once.
    const jwksUrl = `http://127.0.0.1:${await freePort()}/jwks.json`;
    const check = createAssertionChecker({ jwksUrl, issuer: ISSUER, audience: AUDIENCE });
    expect(await refusal(check(await mint("GET", "/x"), "GET", "/x"))).toBe("keys_unavailable");
  });
});
