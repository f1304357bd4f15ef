import { decodeJwt, generateKeyPair } from "jose";
import { describe, expect, it } from "vitest";
import type { AccessTokenClaims } from "../../src/tokens/access-token-claims";
import type { SigningKey } from "../../src/tokens/key-ring";
import { REUSE_SECONDS, requestHash, upstreamAssertion } from "../../src/tokens/upstream-assertion";

const claims: AccessTokenClaims = Object.freeze({
  sub: "user-1",
  iss: "https://gateway.test",
  exp: 2_000_000_000,
  iat: 1_999_999_000,
  jti: "t1",
  sid: "s1",
  authTime: 1_999_999_000,
  scopes: new Set(["read"]),
  roles: new Set<string>(),
  jkt: undefined,
  trustedIssuer: undefined,
  payload: {},
});

async function signer(): Promise<SigningKey> {
  const { privateKey } = await generateKeyPair("EdDSA");
  return { key: privateKey, alg: "EdDSA", kid: "k1" };
}

const at = (now: number, claims: readonly string[] = []) => ({
  issuer: "https://gateway.test",
  audience: "https://api.test",
  ttlSeconds: 60,
  claims,
  now,
});

describe("upstreamAssertion", () => {
  it("hashes the method and path it was made for", async () => {
    const assertion = await upstreamAssertion(claims, "tok", "GET", "/a/b", await signer(), at(1_000_000));
    expect(decodeJwt(assertion)).toMatchObject({
      iat: 1000,
      exp: 1060,
      htm: "GET",
      req: await requestHash("GET", "/a/b"),
      scope: "read",
      roles: [],
    });
  });

  it(`is handed out again, without an await, for ${REUSE_SECONDS} seconds from its iat's second, then made anew`, async () => {
    const key = await signer();
    const first = await upstreamAssertion(claims, "tok", "GET", "/x", key, at(1_000_500));
    expect(upstreamAssertion(claims, "tok", "GET", "/x", key, at(1_004_999))).toBe(first);
    expect(upstreamAssertion(claims, "tok", "GET", "/y", key, at(1_001_000))).toBeInstanceOf(Promise);
    expect(upstreamAssertion(claims, "other", "GET", "/x", key, at(1_001_000))).toBeInstanceOf(Promise);
    const later = upstreamAssertion(claims, "tok", "GET", "/x", key, at(1_005_000));
    expect(later).toBeInstanceOf(Promise);
    expect(decodeJwt(await later).iat).toBe(1005);
  });

  it("is not handed out again for another audience (a route's assertion_audience)", async () => {
    const key = await signer();
    const first = await upstreamAssertion(claims, "tok", "GET", "/y", key, at(1_000_000));
    const other = await upstreamAssertion(claims, "tok", "GET", "/y", key, {
      ...at(1_000_001),
      audience: "https://billing.internal",
    });
    expect(decodeJwt(other).aud).toBe("https://billing.internal");
    expect(upstreamAssertion(claims, "tok", "GET", "/y", key, at(1_000_002))).toBe(first);
  });

  it("copies the claims UPSTREAM_ASSERTION_CLAIMS names, when the token has them", async () => {
    const withEmail = Object.freeze({
      ...claims,
      payload: { email: "a@example.com", groups: ["x", "y"], secret: "s" },
    });
    const assertion = await upstreamAssertion(
      withEmail,
      "t2",
      "GET",
      "/",
      await signer(),
      at(1_000_000, ["email", "groups", "phone"]),
    );
    const payload = decodeJwt(assertion);
    expect(payload).toMatchObject({ email: "a@example.com", groups: ["x", "y"], sub: "user-1" });
    expect(payload).not.toHaveProperty("secret");
    expect(payload).not.toHaveProperty("phone");
  });
});

describe("a trusted issuer's token", () => {
  it("names the issuer's id as token_issuer; the gateway's own tokens name none", async () => {
    const key = await signer();
    const options = {
      issuer: "https://gateway.test",
      audience: "https://api.test",
      ttlSeconds: 60,
      claims: [],
      now: 1_999_999_500_000,
    };
    const ci: AccessTokenClaims = Object.freeze({
      ...claims,
      sub: "gha|repo:acme/api:ref:refs/heads/main",
      sid: undefined,
      trustedIssuer: "github-actions",
    });
    const made = decodeJwt(await upstreamAssertion(ci, "ci-token", "GET", "/deploy", key, options));
    expect(made).toMatchObject({ sub: "gha|repo:acme/api:ref:refs/heads/main", token_issuer: "github-actions" });
    expect(made.sid).toBeUndefined();
    const own = decodeJwt(await upstreamAssertion(claims, "own-token", "GET", "/deploy", key, options));
    expect(own.token_issuer).toBeUndefined();
  });
});
