/**
 * Where verification keys come from: our signing keys (rotated by kid), a local JWKS, a
 * remote JWKS (rotation, outage), and the seed's HS256 shared secret. Each key has one
 * algorithm; the token's header only picks among configured keys.
 */
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AUDIENCE, ISSUER, startGateway } from "../support/gateway";
import { type JwksServer, startJwksServer } from "../support/jwks-server";
import { login } from "../support/session-helpers";
import { makeKey, TEST_SECRETS, type TestKey } from "../support/test-keys";
import { decodeClaims, mintToken } from "../support/tokens";
import { startUpstream, type TestUpstream } from "../support/upstream";

let upstream: TestUpstream;
beforeAll(async () => {
  upstream = await startUpstream();
});
afterAll(() => upstream.close());

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

describe("our own keys", () => {
  it("publishes the public signing keys, never the private parts", async () => {
    const gateway = await startGateway({ upstream });
    try {
      const response = await gateway.fetch("/.well-known/jwks.json");
      expect(response.status).toBe(200);
      const jwks = (await response.json()) as { keys: Record<string, unknown>[] };
      expect(jwks.keys).toHaveLength(1);
      expect(jwks.keys[0]).toMatchObject({ kid: "test-ed25519", alg: "EdDSA", kty: "OKP", use: "sig" });
      expect(jwks.keys[0]).not.toHaveProperty("d");
    } finally {
      await gateway.close();
    }
  });

  it("rotates keys without logging anyone out: old tokens verify, new ones use the active kid", async () => {
    const previous = await makeKey("ES256", "2026-01");
    const current = await makeKey("EdDSA", "2026-06");
    const gateway = await startGateway({
      upstream,
      vars: { SIGNING_KEYS: JSON.stringify([previous.privateJwk, current.privateJwk]), ACTIVE_SIGNING_KID: "2026-06" },
    });
    try {
      const old = await mintToken(previous);
      expect((await gateway.fetch("/api/x", bearer(old))).status).toBe(200);
      const session = await login(gateway);
      const [header = ""] = session.accessToken.split(".");
      expect(JSON.parse(Buffer.from(header, "base64url").toString()).kid).toBe("2026-06");
      expect((await gateway.fetch("/api/x", bearer(session.accessToken))).status).toBe(200);
    } finally {
      await gateway.close();
    }
  });
});

describe("a local JWKS (VERIFY_JWKS)", () => {
  it("accepts tokens from its keys and only with each key's algorithm", async () => {
    const partner = await makeKey("RS256", "partner-rsa");
    const gateway = await startGateway({
      upstream,
      vars: { VERIFY_JWKS: JSON.stringify({ keys: [partner.publicJwk] }) },
    });
    try {
      const token = await mintToken(partner, { header: { typ: "JWT" }, claims: { jti: undefined, sid: undefined } });
      expect((await gateway.fetch("/api/x", bearer(token))).status).toBe(200);
      // Same key id, another algorithm in the header: refused before any signature check.
      const [, payload, signature] = token.split(".");
      const header = Buffer.from(JSON.stringify({ alg: "PS256", kid: "partner-rsa" })).toString("base64url");
      const otherAlg = `${header}.${payload}.${signature}`;
      expect((await gateway.fetch("/api/x", bearer(otherAlg))).status).toBe(401);
    } finally {
      await gateway.close();
    }
  });
});

describe("a remote JWKS (JWKS_URL)", () => {
  let provider: TestKey;
  let rotated: TestKey;
  let jwks: JwksServer;
  beforeAll(async () => {
    provider = await makeKey("ES256", "idp-1");
    rotated = await makeKey("ES256", "idp-2");
    jwks = await startJwksServer([provider.publicJwk]);
  });
  afterAll(() => jwks.close());

  it("verifies with fetched keys, follows a rotation, and survives an outage with last-known-good keys", async () => {
    const gateway = await startGateway({ upstream, vars: { JWKS_URL: jwks.url, JWKS_COOLDOWN_SECONDS: "0" } });
    try {
      const token = await mintToken(provider, { header: { typ: "JWT" } });
      expect((await gateway.fetch("/api/x", bearer(token))).status).toBe(200);

      // The provider rotates: an unknown kid triggers a refetch.
      jwks.keys = [provider.publicJwk, rotated.publicJwk];
      const newer = await mintToken(rotated, { header: { typ: "JWT" } });
      expect((await gateway.fetch("/api/x", bearer(newer))).status).toBe(200);

      // The provider goes down: known keys keep working; unknown kids are invalid tokens.
      jwks.mode = "garbage";
      expect((await gateway.fetch("/api/x", bearer(token))).status).toBe(200);
      const stranger = await makeKey("ES256", "idp-3");
      expect((await gateway.fetch("/api/x", bearer(await mintToken(stranger)))).status).toBe(401);
      await gateway.waitForLog((line) => line.includes('"event":"jwks_fetch_failed"'));
    } finally {
      jwks.mode = "ok";
      await gateway.close();
    }
  });

  it("answers 503, not 401, when the JWKS has never been reachable", async () => {
    jwks.mode = "error";
    const gateway = await startGateway({ upstream, vars: { JWKS_URL: jwks.url, SIGNING_KEYS: "" } });
    try {
      const response = await gateway.fetch("/api/x", bearer(await mintToken(provider, { header: { typ: "JWT" } })));
      expect(response.status).toBe(503);
      expect(response.headers.get("www-authenticate")).toBeNull();
    } finally {
      jwks.mode = "ok";
      await gateway.close();
    }
  });
});

describe("the seed's HS256 shared secret (ACCESS_SECRET)", () => {
  it("accepts tokens signed with the secret and refuses others", async () => {
    const gateway = await startGateway({ upstream, vars: { ACCESS_SECRET: TEST_SECRETS.ACCESS_SECRET } });
    try {
      const sign = (secret: string) =>
        new SignJWT({ scope: "read" })
          .setProtectedHeader({ alg: "HS256" })
          .setIssuer(ISSUER)
          .setAudience(AUDIENCE)
          .setSubject("user-seed")
          .setIssuedAt()
          .setExpirationTime("15m")
          .sign(new TextEncoder().encode(secret));
      const good = await gateway.fetch("/api/x", bearer(await sign(TEST_SECRETS.ACCESS_SECRET)));
      expect(good.status).toBe(200);
      expect(upstream.proxied().at(-1)?.headers["x-auth-subject"]).toBe("user-seed");
      const bad = await gateway.fetch("/api/x", bearer(await sign("another-secret-0123456789abcdef-0123")));
      expect(bad.status).toBe(401);
    } finally {
      await gateway.close();
    }
  });

  it("issues HS256 tokens when no asymmetric key is configured", async () => {
    const gateway = await startGateway({
      upstream,
      vars: { ACCESS_SECRET: TEST_SECRETS.ACCESS_SECRET, SIGNING_KEYS: "" },
    });
    try {
      const session = await login(gateway);
      const [header = ""] = session.accessToken.split(".");
      expect(JSON.parse(Buffer.from(header, "base64url").toString()).alg).toBe("HS256");
      expect(decodeClaims(session.accessToken).sub).toBe("user-alice");
      expect((await gateway.fetch("/api/x", bearer(session.accessToken))).status).toBe(200);
    } finally {
      await gateway.close();
    }
  });
});
