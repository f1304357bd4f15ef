/**
 * The SDK's DPoP proofs (src/client/dpop-proof.ts, dpop-key.ts, dpop-prover.ts) checked
 * with jose, the library the gateway verifies them with: the JWS verifies against its
 * embedded key, the header and claims are what RFC 9449 §4.2 asks for, and the key's
 * thumbprint is jose's RFC 7638 thumbprint.
 */
import { calculateJwkThumbprint, decodeProtectedHeader, EmbeddedJWK, type JWK, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { encodeBase64Url } from "../../src/client/base64url";
import { type DpopKeyStore, memoryKeyStore, obtainDpopKey } from "../../src/client/dpop-key";
import { accessTokenHash, createDpopProof, proofTarget } from "../../src/client/dpop-proof";
import { DpopProver, demandsNonce, isNonceChallenge } from "../../src/client/dpop-prover";

const GATEWAY = "https://gateway.example";
const NOW_SECONDS = 1_780_000_000;

async function verified(proof: string) {
  return jwtVerify(proof, EmbeddedJWK, { typ: "dpop+jwt", algorithms: ["ES256"] });
}

async function sha256(text: string): Promise<string> {
  return encodeBase64Url(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text))));
}

describe("DPoP proofs", () => {
  it("verifies with jose against its embedded public key, typ dpop+jwt, alg ES256", async () => {
    const key = await obtainDpopKey(GATEWAY, memoryKeyStore());
    const proof = await createDpopProof(key, { method: "POST", url: `${GATEWAY}/auth/login`, issuedAt: NOW_SECONDS });
    const { protectedHeader, payload } = await verified(proof);
    expect(protectedHeader).toEqual({ typ: "dpop+jwt", alg: "ES256", jwk: key.publicJwk });
    expect(Object.keys(protectedHeader.jwk ?? {}).sort()).toEqual(["crv", "kty", "x", "y"]);
    expect(payload).toEqual({
      jti: expect.stringMatching(/^[0-9a-f-]{36}$/),
      htm: "POST",
      htu: `${GATEWAY}/auth/login`,
      iat: NOW_SECONDS,
    });
    // JWS ES256 is the raw r || s, 64 bytes, not DER.
    expect(Buffer.from(proof.split(".")[2] ?? "", "base64url")).toHaveLength(64);
  });

  it("signs htu without query and fragment, keeps the port, and the method as given", async () => {
    const key = await obtainDpopKey(GATEWAY, memoryKeyStore());
    const proof = await createDpopProof(key, {
      method: "PATCH",
      url: "http://localhost:8787/api/items/7?expand=all#top",
      issuedAt: NOW_SECONDS,
    });
    const { payload } = await verified(proof);
    expect(payload.htu).toBe("http://localhost:8787/api/items/7");
    expect(payload.htm).toBe("PATCH");
    expect(proofTarget("https://gateway.example:443/a/b?c")).toBe("https://gateway.example/a/b");
  });

  it("carries ath = base64url(SHA-256(token)) with an access token, and the nonce when given", async () => {
    const key = await obtainDpopKey(GATEWAY, memoryKeyStore());
    const token = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1c2VyLWFsaWNlIn0.c2ln";
    const proof = await createDpopProof(key, {
      method: "GET",
      url: `${GATEWAY}/api/me`,
      issuedAt: NOW_SECONDS,
      accessToken: token,
      nonce: "nonce-1",
    });
    const { payload } = await verified(proof);
    expect(payload.ath).toBe(await sha256(token));
    expect(payload.ath).toBe(await accessTokenHash(token));
    expect(payload.nonce).toBe("nonce-1");
  });

  it("uses a new jti for every proof", async () => {
    const key = await obtainDpopKey(GATEWAY, memoryKeyStore());
    const input = { method: "GET", url: `${GATEWAY}/api/me`, issuedAt: NOW_SECONDS };
    const proofs = await Promise.all(Array.from({ length: 20 }, () => createDpopProof(key, input)));
    const jtis = await Promise.all(proofs.map(async (proof) => (await verified(proof)).payload.jti));
    expect(new Set(jtis).size).toBe(20);
  });
});

describe("DPoP key", () => {
  it("has the RFC 7638 thumbprint jose computes, of the public JWK in the proof", async () => {
    const key = await obtainDpopKey(GATEWAY, memoryKeyStore());
    expect(key.thumbprint).toBe(await calculateJwkThumbprint(key.publicJwk as JWK, "sha256"));
    const proof = await createDpopProof(key, { method: "GET", url: `${GATEWAY}/`, issuedAt: NOW_SECONDS });
    expect(await calculateJwkThumbprint(decodeProtectedHeader(proof).jwk as JWK, "sha256")).toBe(key.thumbprint);
  });

  it("is ECDSA P-256 with a private key nobody can export", async () => {
    const store = memoryKeyStore();
    const key = await obtainDpopKey(GATEWAY, store);
    const pair = await store.get(GATEWAY);
    expect(pair?.privateKey).toBe(key.privateKey);
    expect(key.privateKey.extractable).toBe(false);
    expect(key.privateKey.algorithm).toMatchObject({ name: "ECDSA", namedCurve: "P-256" });
    for (const format of ["jwk", "pkcs8"] as const) {
      await expect(crypto.subtle.exportKey(format, key.privateKey)).rejects.toThrow();
    }
  });

  it("is the same key for every caller of one store and origin, also when they start at once", async () => {
    const store = memoryKeyStore();
    const keys = await Promise.all(Array.from({ length: 5 }, () => obtainDpopKey(GATEWAY, store)));
    expect(new Set(keys.map((key) => key.thumbprint)).size).toBe(1);
    expect((await obtainDpopKey(GATEWAY, store)).thumbprint).toBe(keys[0]?.thumbprint);
    expect((await obtainDpopKey("https://other.example", store)).thumbprint).not.toBe(keys[0]?.thumbprint);
  });

  it("replaces something that is not an ECDSA P-256 key pair in the store", async () => {
    const kept: { value?: unknown } = { value: { privateKey: "junk", publicKey: "junk" } };
    const store: DpopKeyStore = {
      get: async () => kept.value as CryptoKeyPair,
      keep: async (_origin, pair) => {
        kept.value = pair;
        return pair;
      },
    };
    const key = await obtainDpopKey(GATEWAY, store);
    expect((kept.value as CryptoKeyPair).privateKey).toBe(key.privateKey);
  });
});

describe("DpopProver", () => {
  it("puts the gateway's latest nonce into the next proof", async () => {
    const prover = new DpopProver({ origin: GATEWAY, store: memoryKeyStore(), now: () => NOW_SECONDS * 1000 });
    const first = await verified((await prover.proof("GET", `${GATEWAY}/api/me`)) ?? "");
    expect(first.payload.nonce).toBeUndefined();
    prover.observe((name) => (name === "dpop-nonce" ? "nonce-7" : null));
    const second = await verified((await prover.proof("GET", `${GATEWAY}/api/me`, "a.b.c")) ?? "");
    expect(second.payload).toMatchObject({ nonce: "nonce-7", ath: await sha256("a.b.c") });
  });

  it("counts iat on the gateway's clock, from the Date of a token endpoint's answer", async () => {
    // This machine's clock is 5 minutes slow.
    const local = NOW_SECONDS * 1000 - 300_000;
    const prover = new DpopProver({ origin: GATEWAY, store: memoryKeyStore(), now: () => local });
    prover.observeClock((name) => (name === "date" ? new Date(NOW_SECONDS * 1000).toUTCString() : null));
    const { payload } = await verified((await prover.proof("POST", `${GATEWAY}/auth/refresh`)) ?? "");
    expect(payload.iat).toBe(NOW_SECONDS);
  });

  it("has no key, and makes no proofs, when the key cannot be made or stored", async () => {
    const broken: DpopKeyStore = {
      get: () => Promise.reject(new Error("storage refused")),
      keep: () => Promise.reject(new Error("storage refused")),
    };
    const prover = new DpopProver({ origin: GATEWAY, store: broken, now: Date.now });
    expect(await prover.key()).toBeUndefined();
    expect(await prover.proof("GET", `${GATEWAY}/api/me`)).toBeUndefined();
  });
});

describe("nonce demands", () => {
  it("reads the 401 challenge of a resource and the 400 body of a token endpoint", async () => {
    expect(
      isNonceChallenge(401, 'DPoP error="use_dpop_nonce", error_description="Resource server requires nonce"'),
    ).toBe(true);
    expect(isNonceChallenge(401, 'DPoP error="invalid_dpop_proof"')).toBe(false);
    const tokenEndpoint = Response.json({ error: "use_dpop_nonce" }, { status: 400, headers: { "dpop-nonce": "n" } });
    expect(await demandsNonce(tokenEndpoint)).toBe(true);
    expect(await tokenEndpoint.json()).toEqual({ error: "use_dpop_nonce" }); // still readable
    expect(await demandsNonce(Response.json({ error: "invalid_dpop_proof" }, { status: 400 }))).toBe(false);
    expect(await demandsNonce(new Response("use_dpop_nonce", { status: 400 }))).toBe(false);
  });
});
