/**
 * A session's life, end to end: login → call → the access token expires → transparent
 * refresh → explicit refresh → reuse of a rotated refresh token → logout. Each step
 * asserts status, headers, cookie attributes and what the upstream received.
 */
import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AUDIENCE, type Gateway, ISSUER, startGateway } from "../support/gateway";
import { rotationRecord } from "../support/revocations";
import { expiredTokenFor, login, REFRESH_COOKIE, refreshCookieHeader, setCookie } from "../support/session-helpers";
import { decodeClaims } from "../support/tokens";

let gateway: Gateway;

beforeAll(async () => {
  // Grace 0: a rotated refresh token presented again is reuse, at once.
  gateway = await startGateway({ vars: { REFRESH_GRACE_SECONDS: "0", ACCESS_TOKEN_TTL: "120" } });
});
afterAll(() => gateway.close());

describe("login", () => {
  it("answers an RFC 6749 token response and sets the refresh cookie with safe attributes", async () => {
    const response = await gateway.fetch("/auth/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "alice", password: "correct horse" }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    const body = (await response.json()) as Record<string, unknown>;
    expect(body.token_type).toBe("Bearer");
    expect(body.expires_in).toBe(120);
    expect(body.scope).toBe("read write");
    expect(body).not.toHaveProperty("refresh_token");

    const cookie = setCookie(response, REFRESH_COOKIE);
    expect(cookie?.value).toMatch(/^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);
    const attributes = cookie?.attributes.split(/;\s*/) ?? [];
    expect(attributes).toEqual(
      expect.arrayContaining(["HttpOnly", "Secure", "SameSite=Strict", "Path=/", `Max-Age=${30 * 86_400}`]),
    );
    expect(cookie?.attributes).not.toMatch(/Domain=/i);

    // RFC 9068 access token, signed with the active key.
    const [headerPart = ""] = String(body.access_token).split(".");
    expect(JSON.parse(Buffer.from(headerPart, "base64url").toString())).toEqual({
      alg: "EdDSA",
      typ: "at+jwt",
      kid: "test-ed25519",
    });
    const claims = decodeClaims(String(body.access_token));
    expect(claims).toMatchObject({
      iss: ISSUER,
      aud: AUDIENCE,
      sub: "user-alice",
      scope: "read write",
      client_id: AUDIENCE,
    });
    expect(claims.exp).toBe((claims.iat as number) + 120);
    // The session began with this login (RFC 9068 §2.2.1 auth_time).
    expect(claims.auth_time).toBe(claims.iat);
    expect(typeof claims.jti).toBe("string");
    expect(claims.sid).toBe(cookie?.value.split(".")[0]);
  });

  it("accepts a form body too", async () => {
    const response = await gateway.fetch("/auth/login", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ username: "admin", password: "battery staple" }),
    });
    expect(response.status).toBe(200);
    expect(decodeClaims(((await response.json()) as { access_token: string }).access_token).sub).toBe("user-admin");
  });

  it("answers the same 401 for a wrong password and for an unknown user", async () => {
    const attempt = (username: string, password: string) =>
      gateway.fetch("/auth/login", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username, password }),
      });
    const wrongPassword = await attempt("alice", "nope");
    const unknownUser = await attempt("mallory", "nope");
    expect(wrongPassword.status).toBe(401);
    expect(unknownUser.status).toBe(401);
    const strip = (body: Record<string, unknown>) => ({ ...body, request_id: undefined });
    expect(strip((await wrongPassword.json()) as Record<string, unknown>)).toEqual(
      strip((await unknownUser.json()) as Record<string, unknown>),
    );
    expect(wrongPassword.headers.getSetCookie()).toEqual([]);
  });

  it("calls the credential check with the shared secret and never forwards the client's headers", async () => {
    await gateway.fetch("/auth/login", {
      method: "POST",
      headers: { "content-type": "application/json", cookie: "tracking=1", "x-auth-subject": "admin" },
      body: JSON.stringify({ username: "alice", password: "correct horse" }),
    });
    const check = gateway.upstream.received.filter((request) => request.url === "/portcullis/credential-check").at(-1);
    expect(check?.headers["x-portcullis-credential-secret"]).toBe("test-credential-secret-0123456789abcdef");
    expect(check?.headers.cookie).toBeUndefined();
    expect(check?.headers["x-auth-subject"]).toBeUndefined();
  });

  it("does not let clients reach the upstream's credential check through the proxy", async () => {
    const session = await login(gateway);
    const response = await gateway.fetch("/portcullis/credential-check", {
      method: "POST",
      headers: { authorization: `Bearer ${session.accessToken}`, "x-portcullis-credential-secret": "guess" },
      body: "{}",
    });
    expect(response.status).toBe(404);
  });
});

describe("a session from login to logout", () => {
  it("refreshes transparently, rotates explicitly, detects reuse and logs out", async () => {
    const session = await login(gateway);

    // 1. A call with the fresh access token.
    const first = await gateway.fetch("/api/profile", { headers: { authorization: `Bearer ${session.accessToken}` } });
    expect(first.status).toBe(200);
    expect(first.headers.get("authorization")).toBeNull();

    // 2. The access token has expired; the refresh cookie rides along: transparent refresh.
    const expired = await expiredTokenFor(gateway, session);
    const payload = randomBytes(256 * 1024);
    const digest = createHash("sha256").update(payload).digest("hex");
    const refreshed = await gateway.fetch("/api/upload", {
      method: "POST",
      headers: {
        authorization: `Bearer ${expired}`,
        cookie: `${refreshCookieHeader(session.refreshToken)}; theme=dark`,
        "content-type": "application/octet-stream",
      },
      body: payload,
    });
    expect(refreshed.status).toBe(200);
    const newAccess = refreshed.headers.get("authorization")?.replace(/^Bearer /, "") ?? "";
    expect(decodeClaims(newAccess)).toMatchObject({ sub: "user-alice", sid: session.claims.sid });
    expect(refreshed.headers.get("access-control-expose-headers")).toContain("Authorization");
    const rotated = setCookie(refreshed, REFRESH_COOKIE);
    expect(rotated?.value).toBeDefined();
    expect(rotated?.value).not.toBe(session.refreshToken);
    expect(rotated?.attributes).toContain("HttpOnly");

    const seen = gateway.upstream.proxied().at(-1);
    expect(seen?.bodySha256).toBe(digest);
    expect(seen?.bodyBytes).toBe(payload.length);
    expect(seen?.headers.authorization).toBe(`Bearer ${newAccess}`);
    expect(seen?.headers.cookie).toBe("theme=dark");

    // The replaced refresh token's id is in the revocation ledger (recorded before forwarding).
    expect(await rotationRecord(gateway, session.refreshToken)).toMatchObject({ reason: "rotated" });

    // 3. Explicit (client-managed) refresh with the rotated cookie.
    const explicit = await gateway.fetch("/auth/refresh", {
      method: "POST",
      headers: { cookie: refreshCookieHeader(rotated?.value ?? "") },
    });
    expect(explicit.status).toBe(200);
    const explicitBody = (await explicit.json()) as { access_token: string; token_type: string };
    expect(explicitBody.token_type).toBe("Bearer");
    const third = setCookie(explicit, REFRESH_COOKIE)?.value ?? "";
    expect(third).not.toBe(rotated?.value);

    // 4. The first refresh token is presented again: reuse. The session dies.
    const reuse = await gateway.fetch("/auth/refresh", {
      method: "POST",
      headers: { cookie: refreshCookieHeader(session.refreshToken) },
    });
    expect(reuse.status).toBe(401);
    expect(((await reuse.json()) as { error: string }).error).toBe("invalid_grant");
    expect(setCookie(reuse, REFRESH_COOKIE)?.attributes).toContain("Max-Age=0");
    await gateway.waitForLog((line) => line.includes('"event":"refresh_token_reuse"'));

    // ...the newest refresh token no longer works...
    const afterReuse = await gateway.fetch("/auth/refresh", {
      method: "POST",
      headers: { cookie: refreshCookieHeader(third) },
    });
    expect(afterReuse.status).toBe(401);
    // ...and every access token of the session is refused from the next request on.
    const before = gateway.upstream.proxied().length;
    const call = await gateway.fetch("/api/profile", {
      headers: { authorization: `Bearer ${explicitBody.access_token}` },
    });
    expect(call.status).toBe(401);
    expect(call.headers.get("www-authenticate")).toContain('error="invalid_token"');
    expect(gateway.upstream.proxied().length).toBe(before);
  });

  it("logout revokes the session and the presented access token and clears the cookies", async () => {
    const session = await login(gateway);
    const response = await gateway.fetch("/auth/logout", {
      method: "POST",
      headers: { authorization: `Bearer ${session.accessToken}`, cookie: refreshCookieHeader(session.refreshToken) },
    });
    expect(response.status).toBe(204);
    const cleared = setCookie(response, REFRESH_COOKIE);
    expect(cleared?.value).toBe("");
    expect(cleared?.attributes).toContain("Max-Age=0");

    const call = await gateway.fetch("/api/profile", { headers: { authorization: `Bearer ${session.accessToken}` } });
    expect(call.status).toBe(401);
    const refresh = await gateway.fetch("/auth/refresh", {
      method: "POST",
      headers: { cookie: refreshCookieHeader(session.refreshToken) },
    });
    expect(refresh.status).toBe(401);
  });

  it("never refreshes an access token that is invalid for another reason than expiry", async () => {
    const session = await login(gateway);
    const expired = await expiredTokenFor(gateway, session);
    const [header, payload] = expired.split(".");
    const forged = `${header}.${payload}.${"A".repeat(86)}`;
    const response = await gateway.fetch("/api/profile", {
      headers: { authorization: `Bearer ${forged}`, cookie: refreshCookieHeader(session.refreshToken) },
    });
    expect(response.status).toBe(401);
    expect(setCookie(response, REFRESH_COOKIE)).toBeUndefined();
    // The refresh token was not spent: it still rotates.
    const refresh = await gateway.fetch("/auth/refresh", {
      method: "POST",
      headers: { cookie: refreshCookieHeader(session.refreshToken) },
    });
    expect(refresh.status).toBe(200);
  });

  it("does not refresh with a refresh cookie of another session", async () => {
    const mine = await login(gateway);
    const theirs = await login(gateway, "admin");
    const expired = await expiredTokenFor(gateway, mine);
    const response = await gateway.fetch("/api/profile", {
      headers: { authorization: `Bearer ${expired}`, cookie: refreshCookieHeader(theirs.refreshToken) },
    });
    expect(response.status).toBe(401);
  });
});

describe("explicit refresh for non-browser clients", () => {
  it("takes grant_type=refresh_token in a form and answers the rotated token in the body", async () => {
    const session = await login(gateway);
    const response = await gateway.fetch("/auth/refresh", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: session.refreshToken }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { refresh_token: string; access_token: string };
    expect(body.refresh_token).toMatch(/^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);
    expect(body.refresh_token).not.toBe(session.refreshToken);
    expect(setCookie(response, REFRESH_COOKIE)).toBeUndefined();
  });

  it.each([
    ["no refresh token", {}],
    ["an unknown refresh token", { cookie: refreshCookieHeader(`${"A".repeat(22)}.${"B".repeat(43)}`) }],
    ["a garbage cookie", { cookie: refreshCookieHeader("not-a-token") }],
  ])("answers 401 invalid_grant for %s and clears the cookies", async (_name, headers) => {
    const response = await gateway.fetch("/auth/refresh", { method: "POST", headers });
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: string }).error).toBe("invalid_grant");
    expect(setCookie(response, REFRESH_COOKIE)?.attributes).toContain("Max-Age=0");
  });

  it("does not let a guessed refresh token for a real session end that session", async () => {
    const session = await login(gateway);
    const sid = String(session.claims.sid);
    const guess = await gateway.fetch("/auth/refresh", {
      method: "POST",
      headers: { cookie: refreshCookieHeader(`${sid}.${"x".repeat(43)}`) },
    });
    expect(guess.status).toBe(401);
    const real = await gateway.fetch("/auth/refresh", {
      method: "POST",
      headers: { cookie: refreshCookieHeader(session.refreshToken) },
    });
    expect(real.status).toBe(200);
  });
});

describe("ROTATION_RECORD=session (the session object alone records rotations)", () => {
  it("rotates without a ledger entry, and still detects reuse and refuses the session's tokens", async () => {
    const cheap = await startGateway({
      upstream: gateway.upstream,
      vars: { ROTATION_RECORD: "session", REFRESH_GRACE_SECONDS: "0" },
    });
    try {
      const session = await login(cheap);
      const rotated = await cheap.fetch("/auth/refresh", {
        method: "POST",
        headers: { cookie: refreshCookieHeader(session.refreshToken) },
      });
      expect(rotated.status).toBe(200);
      const { access_token: accessToken } = (await rotated.json()) as { access_token: string };
      expect(await rotationRecord(cheap, session.refreshToken)).toBeUndefined();

      const reuse = await cheap.fetch("/auth/refresh", {
        method: "POST",
        headers: { cookie: refreshCookieHeader(session.refreshToken) },
      });
      expect(reuse.status).toBe(401);
      const call = await cheap.fetch("/api/profile", { headers: { authorization: `Bearer ${accessToken}` } });
      expect(call.status).toBe(401);
    } finally {
      await cheap.close();
    }
  });
});
