/**
 * Access tokens: verification per algorithm (the valid-token path), issuing per
 * algorithm (the refresh path), and the seed design's jsonwebtoken for comparison.
 * Runs on Node's WebCrypto; workerd uses BoringSSL for the same primitives.
 */
import { createPrivateKey, createPublicKey } from "node:crypto";
import { jwtVerify, SignJWT } from "jose";
import jwt from "jsonwebtoken";
import { bench, describe } from "vitest";
import { issueAccessToken } from "../../src/tokens/issue-access-token";
import { inspectToken, verifyAccessToken } from "../../src/tokens/verify-access-token";
import { makeKey, TEST_SECRETS } from "../../test/support/test-keys";
import { ALGORITHMS, type AlgorithmFixture, algorithmFixture } from "./fixtures";

const fixtures = new Map<string, AlgorithmFixture>();
for (const alg of ALGORITHMS) fixtures.set(alg, await algorithmFixture(alg));
const fixture = (alg: string) => fixtures.get(alg) as AlgorithmFixture;

const options = (config: AlgorithmFixture["config"]) => ({
  issuer: config.issuer,
  audience: config.audience,
  clockToleranceSeconds: config.clockToleranceSeconds,
  now: Date.now(),
});

describe("verifyAccessToken (valid token)", () => {
  for (const alg of ALGORITHMS) {
    const { config, keys, token } = fixture(alg);
    bench(alg, async () => {
      await verifyAccessToken(token, keys, options(config));
    });
  }
});

describe("verifyAccessToken (expired token, the refresh path's first step)", () => {
  for (const alg of ["EdDSA", "HS256"]) {
    const { config, keys, expired } = fixture(alg);
    bench(alg, async () => {
      await verifyAccessToken(expired, keys, options(config));
    });
  }
});

describe("inspectToken (shape and header, no cryptography)", () => {
  const { token } = fixture("EdDSA");
  bench("EdDSA token", () => {
    inspectToken(token);
  });
});

describe("issueAccessToken", () => {
  const subject = {
    sub: "user-alice",
    sid: "AAAAAAAAAAAAAAAAAAAAAA",
    authTime: 1,
    scope: ["read", "write"],
    roles: ["member"],
  };
  for (const alg of ALGORITHMS) {
    const { config, keys } = fixture(alg);
    bench(alg, async () => {
      await issueAccessToken(subject, keys.signer, {
        issuer: config.issuer,
        audience: config.audience,
        ttlSeconds: 900,
        now: Date.now(),
      });
    });
  }
});

const es256 = await makeKey("ES256", "seed");
const publicKey = createPublicKey({ key: es256.publicJwk as never, format: "jwk" });
const privateKey = createPrivateKey({ key: es256.privateJwk as never, format: "jwk" });
const now = Math.floor(Date.now() / 1000);
const hsToken = jwt.sign({ userId: "u1", exp: now + 3600 }, TEST_SECRETS.ACCESS_SECRET);
const esToken = await new SignJWT({ userId: "u1" })
  .setProtectedHeader({ alg: "ES256" })
  .setExpirationTime(now + 3600)
  .sign(es256.privateKey);

const eddsa = fixture("EdDSA");
const hs256 = fixture("HS256");
const hmacKey = await crypto.subtle.importKey(
  "raw",
  new TextEncoder().encode(TEST_SECRETS.ACCESS_SECRET),
  { name: "HMAC", hash: "SHA-256" },
  false,
  ["verify"],
);
const ed = await eddsa.keys.resolve({ alg: "EdDSA", kid: "bench-eddsa" }, Date.now());

describe("jose alone (what verifyAccessToken adds on top)", () => {
  bench("jwtVerify EdDSA, imported CryptoKey", async () => {
    await jwtVerify(eddsa.token, ed?.key as CryptoKey);
  });
  bench("jwtVerify HS256, secret as bytes (imported on every call)", async () => {
    await jwtVerify(hs256.token, new TextEncoder().encode(TEST_SECRETS.ACCESS_SECRET));
  });
  bench("jwtVerify HS256, secret imported once as a CryptoKey", async () => {
    await jwtVerify(hs256.token, hmacKey);
  });
});

describe("seed design: jsonwebtoken", () => {
  bench("verify HS256", () => {
    jwt.verify(hsToken, TEST_SECRETS.ACCESS_SECRET);
  });
  bench("verify ES256", () => {
    jwt.verify(esToken, publicKey);
  });
  bench("sign HS256", () => {
    jwt.sign({ userId: "u1" }, TEST_SECRETS.ACCESS_SECRET, { expiresIn: "15m" });
  });
  bench("sign ES256", () => {
    jwt.sign({ userId: "u1" }, privateKey, { expiresIn: "15m", algorithm: "ES256" });
  });
});
