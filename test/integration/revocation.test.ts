/**
 * Revocation is checked before anything is forwarded, against the snapshot the revocation
 * ledger publishes to KV: by token id (`jti`), by session (`sid`) and by subject ("revoked
 * before"). Entries carry their expiry. Also the RFC 7009 endpoint and the operator's
 * "log out everywhere".
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Gateway, startGateway } from "../support/gateway";
import { recordAndPublish, recordedEntry, waitForSnapshot } from "../support/revocations";
import { expiredTokenFor, login, refreshCookieHeader } from "../support/session-helpers";
import { TEST_SECRETS } from "../support/test-keys";
import { mintToken } from "../support/tokens";

let gateway: Gateway;

beforeAll(async () => {
  gateway = await startGateway();
});
afterAll(() => gateway.close());

async function refusedWithin(token: string, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  do {
    if ((await call(token)) === 401) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  } while (Date.now() < until);
  return false;
}

async function call(token: string): Promise<number> {
  return (await gateway.fetch("/api/x", { headers: { authorization: `Bearer ${token}` } })).status;
}

const operator = { authorization: `Bearer ${TEST_SECRETS.OPERATOR_TOKEN}`, "content-type": "application/json" };

describe("revocation list published to KV", () => {
  it("refuses a token whose jti is revoked, without calling the upstream", async () => {
    const jti = crypto.randomUUID();
    const token = await mintToken(gateway.key, { claims: { jti } });
    expect(await call(token)).toBe(200);
    await recordAndPublish(gateway, [{ kind: "jti", id: jti, reason: "test", ttlSeconds: 60 }]);
    expect(await refusedWithin(token, 3_000)).toBe(true);
    const before = gateway.upstream.proxied().length;
    expect(await call(token)).toBe(401);
    expect(gateway.upstream.proxied().length).toBe(before);
  });

  it("refuses every token of a revoked session", async () => {
    const sid = "SESSIONSESSIONSESSION0";
    const tokens = await Promise.all([1, 2].map(() => mintToken(gateway.key, { claims: { sid } })));
    await recordAndPublish(gateway, [{ kind: "sid", id: sid, reason: "test", ttlSeconds: 60 }]);
    for (const token of tokens) expect(await refusedWithin(token, 3_000)).toBe(true);
    expect(await call(await mintToken(gateway.key, { claims: { sid: "OTHERSESSIONOTHERSESSI" } }))).toBe(200);
  });

  it("refuses tokens of a subject's sessions that began before the revocation, not later ones", async () => {
    const now = Math.floor(Date.now() / 1000);
    const old = await mintToken(gateway.key, { claims: { sub: "user-bob", auth_time: now - 100 } });
    await recordAndPublish(gateway, [{ kind: "sub", id: "user-bob", reason: "test", ttlSeconds: 60 }]);
    const revokedAt = Math.floor(((await recordedEntry(gateway, "sub", "user-bob"))?.at ?? 0) / 1000);
    const fresh = await mintToken(gateway.key, { claims: { sub: "user-bob", auth_time: revokedAt + 1 } });
    // Published; this isolate takes it in at its next read of the shard, which KV (eventually
    // consistent per key) may answer with the value it read before: within the bound, not at once.
    expect(await refusedWithin(old, 3_000)).toBe(true);
    expect(await call(fresh)).toBe(200);
  });

  it("publishes revocations with an expiry", async () => {
    const session = await login(gateway);
    await gateway.fetch("/auth/logout", {
      method: "POST",
      headers: { authorization: `Bearer ${session.accessToken}`, cookie: refreshCookieHeader(session.refreshToken) },
    });
    const sid = String(session.claims.sid);
    await waitForSnapshot(gateway, (published) => published.has("sid", sid));
    const expiration = (await recordedEntry(gateway, "sid", sid))?.exp ?? 0;
    const now = Date.now() / 1000;
    // Access token lifetime (900 s in production config) + clock tolerance.
    expect(expiration).toBeGreaterThan(now + 800);
    expect(expiration).toBeLessThan(now + 1000);
  });
});

describe("RFC 7009 revocation endpoint", () => {
  it("revokes an access token", async () => {
    const session = await login(gateway);
    const response = await gateway.fetch("/auth/revoke", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: session.accessToken, token_type_hint: "access_token" }),
    });
    expect(response.status).toBe(200);
    expect(await call(session.accessToken)).toBe(401);
  });

  it("revokes a refresh token, ending its session", async () => {
    const session = await login(gateway);
    const response = await gateway.fetch("/auth/revoke", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: session.refreshToken }),
    });
    expect(response.status).toBe(200);
    const refresh = await gateway.fetch("/auth/refresh", {
      method: "POST",
      headers: { cookie: refreshCookieHeader(session.refreshToken) },
    });
    expect(refresh.status).toBe(401);
    expect(await call(session.accessToken)).toBe(401);
  });

  it("answers 200 for unknown or invalid tokens", async () => {
    for (const token of ["garbage", `${"A".repeat(22)}.${"B".repeat(43)}`, "a.b.c"]) {
      const response = await gateway.fetch("/auth/revoke", {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ token }),
      });
      expect(response.status).toBe(200);
    }
  });

  it("answers 400 invalid_request without a token", async () => {
    const response = await gateway.fetch("/auth/revoke", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "token_type_hint=access_token",
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toBe("invalid_request");
  });

  it("requires client authentication when a revocation client is configured", async () => {
    const guarded = await startGateway({
      upstream: gateway.upstream,
      vars: { REVOKE_CLIENT_ID: "mobile-app", REVOKE_CLIENT_SECRET: "revoke-client-secret-0123456789abcdef" },
    });
    try {
      const form = { "content-type": "application/x-www-form-urlencoded" };
      const anonymous = await guarded.fetch("/auth/revoke", { method: "POST", headers: form, body: "token=x" });
      expect(anonymous.status).toBe(401);
      expect(((await anonymous.json()) as { error: string }).error).toBe("invalid_client");
      const basic = Buffer.from("mobile-app:revoke-client-secret-0123456789abcdef").toString("base64");
      const authenticated = await guarded.fetch("/auth/revoke", {
        method: "POST",
        headers: { ...form, authorization: `Basic ${basic}` },
        body: "token=x",
      });
      expect(authenticated.status).toBe(200);
    } finally {
      await guarded.close();
    }
  });
});

describe("operator: log out everywhere", () => {
  it("revokes every session of a subject, access and refresh alike", async () => {
    const phone = await login(gateway);
    const laptop = await login(gateway);
    const response = await gateway.fetch("/auth/operator/revoke-subject", {
      method: "POST",
      headers: operator,
      body: JSON.stringify({ sub: "user-alice" }),
    });
    expect(response.status).toBe(200);
    for (const session of [phone, laptop]) {
      expect(await call(session.accessToken)).toBe(401);
      const refresh = await gateway.fetch("/auth/refresh", {
        method: "POST",
        headers: { cookie: refreshCookieHeader(session.refreshToken) },
      });
      expect(refresh.status).toBe(401);
    }
  });

  it("refuses a transparent refresh of a session that began before, without reaching the upstream", async () => {
    const session = await login(gateway, "admin");
    const expired = await expiredTokenFor(gateway, session);
    const revoked = await gateway.fetch("/auth/operator/revoke-subject", {
      method: "POST",
      headers: operator,
      body: JSON.stringify({ sub: "user-admin" }),
    });
    expect(revoked.status).toBe(200);
    const before = gateway.upstream.proxied().length;
    const response = await gateway.fetch("/api/x", {
      headers: { authorization: `Bearer ${expired}`, cookie: refreshCookieHeader(session.refreshToken) },
    });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toContain('error="invalid_token"');
    expect(response.headers.getSetCookie().join("\n")).toContain("__Host-portcullis-refresh=;");
    expect(gateway.upstream.proxied().length).toBe(before);
  });

  it("does not cover a session that began after it in the same second (the token carries auth_ms)", async () => {
    let sameSecond = 0;
    for (let attempt = 0; attempt < 5 && sameSecond < 2; attempt++) {
      // Start at the top of a second, so the login lands in the revocation's second.
      await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 5));
      const revoked = await gateway.fetch("/auth/operator/revoke-subject", {
        method: "POST",
        headers: operator,
        body: JSON.stringify({ sub: "user-admin" }),
      });
      expect(revoked.status).toBe(200);
      const revokedAt = Date.now();
      const session = await login(gateway, "admin");
      if (Number(session.claims.auth_time) !== Math.floor(revokedAt / 1000)) continue;
      sameSecond++;
      expect(await call(session.accessToken)).toBe(200);
      const refresh = await gateway.fetch("/auth/refresh", {
        method: "POST",
        headers: { cookie: refreshCookieHeader(session.refreshToken) },
      });
      expect(refresh.status).toBe(200);
    }
    expect(sameSecond).toBeGreaterThan(0);
  });

  it("refuses callers without the operator token", async () => {
    for (const authorization of [undefined, "Bearer wrong-operator-token-0123456789abcdef", "Basic abc"]) {
      const response = await gateway.fetch("/auth/operator/revoke-subject", {
        method: "POST",
        headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) },
        body: JSON.stringify({ sub: "user-alice" }),
      });
      expect(response.status).toBe(401);
    }
  });

  it("ends one session by id", async () => {
    const session = await login(gateway, "admin");
    const response = await gateway.fetch("/auth/operator/revoke-session", {
      method: "POST",
      headers: operator,
      body: JSON.stringify({ sid: session.claims.sid }),
    });
    expect(response.status).toBe(200);
    expect(await call(session.accessToken)).toBe(401);
  });
});
