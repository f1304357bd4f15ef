/**
 * DPoP-bound sessions through the bundled gateway (RFC 9449; docs/dpop.md): a login or
 * refresh with a proof binds the session and its tokens to the proof's key; the bound
 * token works only with proofs by that key, a transparent refresh keeps the binding, and
 * a refresh cookie without the key ends the session as reuse does. The attack corpus is
 * dpop-attacks.test.ts; this file is the life of a bound session.
 */
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DpopKey, makeDpopKey, signProof } from "../support/dpop";
import { type Gateway, startGateway } from "../support/gateway";
import { type OidcSetup, rawRequest, startOidcGateway } from "../support/oidc-gateway";
import { loginThroughIdp } from "../support/oidc-login";
import { REFRESH_COOKIE, refreshCookieHeader, setCookie } from "../support/session-helpers";
import { decodeClaims, mintToken } from "../support/tokens";
import { startTwoLocations, type TwoLocations } from "../support/two-locations";
import { TEST_USERS } from "../support/upstream";

interface BoundLogin {
  readonly accessToken: string;
  readonly refreshToken: string;
  readonly tokenType: string;
}

async function loginWith(gateway: { url: string; fetch: Gateway["fetch"] }, key: DpopKey | undefined) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (key) headers.dpop = await signProof(key, { htm: "POST", htu: `${gateway.url}/auth/login` });
  const response = await gateway.fetch("/auth/login", {
    method: "POST",
    headers,
    body: JSON.stringify({ username: "alice", password: TEST_USERS.alice?.password }),
  });
  expect(response.status).toBe(200);
  const body = (await response.json()) as { access_token: string; token_type: string };
  const refreshToken = setCookie(response, REFRESH_COOKIE)?.value ?? "";
  return { accessToken: body.access_token, refreshToken, tokenType: body.token_type } satisfies BoundLogin;
}

/** POST /auth/refresh with the refresh cookie, and a proof by `key` when one is given. */
async function refreshWith(
  gateway: { url: string; fetch: Gateway["fetch"] },
  refreshToken: string,
  key: DpopKey | undefined,
): Promise<Response> {
  const headers: Record<string, string> = { cookie: refreshCookieHeader(refreshToken) };
  if (key) headers.dpop = await signProof(key, { htm: "POST", htu: `${gateway.url}/auth/refresh` });
  return gateway.fetch("/auth/refresh", { method: "POST", headers });
}

async function callWith(
  gateway: { url: string; fetch: Gateway["fetch"] },
  path: string,
  token: string,
  key: DpopKey,
  extra: Record<string, string> = {},
): Promise<Response> {
  const proof = await signProof(key, { htm: "GET", htu: `${gateway.url}${path}`, accessToken: token });
  return gateway.fetch(path, { headers: { authorization: `DPoP ${token}`, dpop: proof, ...extra } });
}

describe("a session begun with a DPoP proof", () => {
  let gateway: Gateway;
  let key: DpopKey;

  beforeAll(async () => {
    gateway = await startGateway({
      vars: {
        ROUTES: JSON.stringify([
          { path: "/health", public: true },
          { path: "/transfers/*", dpop: "required" },
        ]),
      },
    });
    key = await makeDpopKey("ES256");
  });
  afterAll(() => gateway?.close());

  it("gets a DPoP token bound to the key, which reaches the upstream with the proof and the thumbprint", async () => {
    const session = await loginWith(gateway, key);
    expect(session.tokenType).toBe("DPoP");
    expect(decodeClaims(session.accessToken).cnf).toEqual({ jkt: key.thumbprint });

    const proof = await signProof(key, {
      htm: "GET",
      htu: `${gateway.url}/api/items`,
      accessToken: session.accessToken,
    });
    const response = await gateway.fetch("/api/items", {
      headers: { authorization: `DPoP ${session.accessToken}`, dpop: proof, "x-auth-key-thumbprint": "forged" },
    });
    expect(response.status).toBe(200);
    const seen = gateway.upstream.proxied().at(-1);
    expect(seen?.headers.authorization).toBe(`DPoP ${session.accessToken}`);
    expect(seen?.headers.dpop).toBe(proof);
    expect(seen?.headers["x-auth-key-thumbprint"]).toBe(key.thumbprint);
    expect(seen?.headers["x-auth-subject"]).toBe("user-alice");
  });

  it("is refused as Bearer, and with a proof by another key", async () => {
    const session = await loginWith(gateway, key);
    const before = gateway.upstream.proxied().length;
    const asBearer = await gateway.fetch("/api/items", { headers: { authorization: `Bearer ${session.accessToken}` } });
    expect(asBearer.status).toBe(401);
    expect(asBearer.headers.get("www-authenticate")).toMatch(/^DPoP .*error="invalid_token"/);
    const other = await makeDpopKey("ES256");
    const otherKey = await callWith(gateway, "/api/items", session.accessToken, other);
    expect(otherKey.status).toBe(401);
    expect(otherKey.headers.get("www-authenticate")).toMatch(/^DPoP .*error="invalid_dpop_proof".*algs="ES256/);
    expect(gateway.upstream.proxied().length).toBe(before);
  });

  it("is refreshed transparently with a proof, and the new token is bound to the same key", async () => {
    const session = await loginWith(gateway, key);
    const { sub, sid, auth_time, auth_ms, scope, roles } = decodeClaims(session.accessToken);
    const expired = await mintToken(gateway.key, {
      claims: { sub, sid, auth_time, auth_ms, scope, roles, cnf: { jkt: key.thumbprint } } as never,
      iatOffset: -3600,
      ttl: 900,
    });
    const response = await callWith(gateway, "/api/items", expired, key, {
      cookie: refreshCookieHeader(session.refreshToken),
    });
    expect(response.status).toBe(200);
    const [scheme, renewed = ""] = (response.headers.get("authorization") ?? "").split(" ");
    expect(scheme).toBe("DPoP");
    expect(decodeClaims(renewed).cnf).toEqual({ jkt: key.thumbprint });
    expect(setCookie(response, REFRESH_COOKIE)?.value).not.toBe(session.refreshToken);
    expect((await callWith(gateway, "/api/items", renewed, key)).status).toBe(200);
  });

  it("ends when its refresh cookie comes without a proof by its key, as refresh-token reuse does", async () => {
    const session = await loginWith(gateway, key);
    const stolen = await refreshWith(gateway, session.refreshToken, undefined);
    expect(stolen.status).toBe(401);
    expect(((await stolen.json()) as { error: string }).error).toBe("invalid_grant");
    await gateway.waitForLog((line) => line.includes('"dpop_key_mismatch"'));

    // The victim's own refresh, with the right key, finds the session ended.
    const victim = await refreshWith(gateway, session.refreshToken, key);
    expect(victim.status).toBe(401);
    // And its access token is refused once the revocation is published (within the bound).
    await expect
      .poll(async () => (await callWith(gateway, "/api/items", session.accessToken, key)).status, {
        timeout: 5_000,
      })
      .toBe(401);
  });

  it("binds an unbound session at its first refresh with a proof; from then on the key is required", async () => {
    const session = await loginWith(gateway, undefined);
    expect(session.tokenType).toBe("Bearer");
    const bound = await refreshWith(gateway, session.refreshToken, key);
    expect(bound.status).toBe(200);
    const body = (await bound.json()) as { access_token: string; token_type: string };
    expect(body.token_type).toBe("DPoP");
    expect(decodeClaims(body.access_token).cnf).toEqual({ jkt: key.thumbprint });

    const next = setCookie(bound, REFRESH_COOKIE)?.value ?? "";
    const other = await makeDpopKey("EdDSA");
    const withOtherKey = await refreshWith(gateway, next, other);
    expect(withOtherKey.status).toBe(401);
  });

  it("is not ended through POST /auth/logout by its access token without a proof by its key", async () => {
    const session = await loginWith(gateway, key);
    const thief = await gateway.fetch("/auth/logout", {
      method: "POST",
      headers: { authorization: `Bearer ${session.accessToken}` },
    });
    expect(thief.status).toBe(204);
    expect((await callWith(gateway, "/api/items", session.accessToken, key)).status).toBe(200);
    const proof = await signProof(key, {
      htm: "POST",
      htu: `${gateway.url}/auth/logout`,
      accessToken: session.accessToken,
    });
    const owner = await gateway.fetch("/auth/logout", {
      method: "POST",
      headers: { authorization: `DPoP ${session.accessToken}`, dpop: proof },
    });
    expect(owner.status).toBe(204);
    const after = await refreshWith(gateway, session.refreshToken, key);
    expect(after.status).toBe(401);
  });

  it('admits only DPoP-bound tokens on a route with dpop = "required"', async () => {
    const bearer = await loginWith(gateway, undefined);
    const refused = await gateway.fetch("/transfers/1", { headers: { authorization: `Bearer ${bearer.accessToken}` } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toMatch(/^DPoP .*error="invalid_token"/);
    const bound = await loginWith(gateway, key);
    expect((await callWith(gateway, "/transfers/1", bound.accessToken, key)).status).toBe(200);
  });
});

describe("DPoP settings", () => {
  it('DPOP_SESSIONS = "required" refuses a login without a proof', async () => {
    const gateway = await startGateway({ vars: { DPOP_SESSIONS: "required" } });
    try {
      const response = await gateway.fetch("/auth/login", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username: "alice", password: TEST_USERS.alice?.password }),
      });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: string }).error).toBe("invalid_dpop_proof");
      const key = await makeDpopKey("ES256");
      expect((await loginWith(gateway, key)).tokenType).toBe("DPoP");
    } finally {
      await gateway.close();
    }
  });

  it('DPOP_SESSIONS = "required" ends a bound session whose refresh cookie comes without a proof', async () => {
    const gateway = await startGateway({ vars: { DPOP_SESSIONS: "required" } });
    try {
      const key = await makeDpopKey("ES256");
      const session = await loginWith(gateway, key);
      const stolen = await refreshWith(gateway, session.refreshToken, undefined);
      expect(stolen.status).toBe(401);
      expect(((await stolen.json()) as { error: string }).error).toBe("invalid_grant");
      const owner = await refreshWith(gateway, session.refreshToken, key);
      expect(owner.status).toBe(401);
    } finally {
      await gateway.close();
    }
  });

  it("DPOP_NONCE: the retry for the nonce is not another login attempt, and every answer names the next nonce", async () => {
    const gateway = await startGateway({
      rateLimits: "wrangler",
      vars: { DPOP_NONCE: "true", DPOP_NONCE_SECRET: "a-test-nonce-secret-of-32-characters-or-more" },
    });
    try {
      const key = await makeDpopKey("ES256");
      const htu = `${gateway.url}/auth/login`;
      const headers = { "content-type": "application/json" };
      // LOGIN_IP_LIMIT allows 10 a minute, LOGIN_ACCOUNT_LIMIT 5 (wrangler.toml): 10 logins,
      // five for each of two users, each tried first without a nonce.
      for (let attempt = 0; attempt < 10; attempt++) {
        const user = attempt % 2 === 0 ? "alice" : "admin";
        const body = JSON.stringify({ username: user, password: TEST_USERS[user]?.password });
        const first = await gateway.fetch("/auth/login", {
          method: "POST",
          headers: { ...headers, dpop: await signProof(key, { htm: "POST", htu }) },
          body,
        });
        expect(first.status).toBe(400);
        const nonce = first.headers.get("dpop-nonce") ?? "";
        const retry = await gateway.fetch("/auth/login", {
          method: "POST",
          headers: { ...headers, dpop: await signProof(key, { htm: "POST", htu, nonce }) },
          body,
        });
        expect(retry.status).toBe(200);
      }
      // A refusal of a proof-carrying request names the nonce as well (no cookie: 401).
      const refused = await gateway.fetch("/auth/refresh", {
        method: "POST",
        headers: { dpop: await signProof(key, { htm: "POST", htu: `${gateway.url}/auth/refresh` }) },
      });
      expect(refused.status).toBe(400);
      expect(refused.headers.get("dpop-nonce")).not.toBeNull();
    } finally {
      await gateway.close();
    }
  });

  it("DPOP_NONCE: a proof without the server's nonce is answered with one, and the retry passes", async () => {
    const gateway = await startGateway({
      vars: { DPOP_NONCE: "true", DPOP_NONCE_SECRET: "a-test-nonce-secret-of-32-characters-or-more" },
    });
    try {
      const key = await makeDpopKey("ES256");
      const htu = `${gateway.url}/auth/login`;
      const body = JSON.stringify({ username: "alice", password: TEST_USERS.alice?.password });
      const headers = { "content-type": "application/json" };
      const first = await gateway.fetch("/auth/login", {
        method: "POST",
        headers: { ...headers, dpop: await signProof(key, { htm: "POST", htu }) },
        body,
      });
      expect(first.status).toBe(400);
      expect(((await first.json()) as { error: string }).error).toBe("use_dpop_nonce");
      const nonce = first.headers.get("dpop-nonce") ?? "";
      expect(nonce).not.toBe("");
      const second = await gateway.fetch("/auth/login", {
        method: "POST",
        headers: { ...headers, dpop: await signProof(key, { htm: "POST", htu, nonce }) },
        body,
      });
      expect(second.status).toBe(200);
      const token = ((await second.json()) as { access_token: string }).access_token;
      const next = second.headers.get("dpop-nonce") ?? "";

      const url = `${gateway.url}/api/items`;
      const stale = await gateway.fetch("/api/items", {
        headers: {
          authorization: `DPoP ${token}`,
          dpop: await signProof(key, { htm: "GET", htu: url, accessToken: token, nonce: "made-up" }),
        },
      });
      expect(stale.status).toBe(401);
      expect(stale.headers.get("www-authenticate")).toMatch(/^DPoP .*error="use_dpop_nonce"/);
      const ok = await gateway.fetch("/api/items", {
        headers: {
          authorization: `DPoP ${token}`,
          dpop: await signProof(key, { htm: "GET", htu: url, accessToken: token, nonce: next }),
        },
      });
      expect(ok.status).toBe(200);
      expect(ok.headers.get("dpop-nonce")).toBe(next);
    } finally {
      await gateway.close();
    }
  });
});

/** A GET to `base` with a Host header of our choosing (fetch sets its own). */
function requestWithHost(
  base: string,
  path: string,
  host: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: { get(name: string): string | null } }> {
  return new Promise((resolve, reject) => {
    const request = http.request(`${base}${path}`, { headers: { ...headers, host } }, (response) => {
      response.resume();
      response.on("end", () =>
        resolve({
          status: response.statusCode ?? 0,
          headers: { get: (name) => (response.headers[name] as string | undefined) ?? null },
        }),
      );
    });
    request.on("error", reject);
    request.end();
  });
}

describe('a proof replayed at another location on a revocation = "strict" route', () => {
  let locations: TwoLocations;
  beforeAll(async () => {
    locations = await startTwoLocations({ ROUTES: JSON.stringify([{ path: "/payments/*", revocation: "strict" }]) });
  });
  afterAll(() => locations?.close());

  it("is refused by the session's object, which every location asks", async () => {
    const key = await makeDpopKey("ES256");
    const session = await loginWith(locations.a, key);
    // One proof, made for location B's URL, used at B and then replayed at B's twin: the
    // per-isolate caches differ, the session's object is one.
    const htuA = `${locations.a.url}/payments/1`;
    const proof = await signProof(key, { htm: "GET", htu: htuA, accessToken: session.accessToken });
    const headers = { authorization: `DPoP ${session.accessToken}`, dpop: proof };
    expect((await locations.a.fetch("/payments/1", { headers })).status).toBe(200);
    // B is another isolate, reached at another origin: the same proof names A's URL, so
    // send it to B with A's Host, as a replay through another location would arrive.
    const replay = await requestWithHost(locations.b.url, "/payments/1", new URL(htuA).host, headers);
    expect(replay.status).toBe(401);
    expect(replay.headers.get("www-authenticate")).toMatch(/error="invalid_dpop_proof"/);
    // Refused by the object, not by a check B could make alone (the URI, its own cache).
    await locations.a.waitForLog((line) => line.includes("strict route: jti replayed"));
  });
});

describe("a browser navigation with a bound session's refresh cookie (OIDC)", () => {
  let setup: OidcSetup;
  beforeAll(async () => {
    setup = await startOidcGateway();
  });
  afterAll(() => setup?.close());

  it("is answered as unauthenticated and ends nothing: the key's own refresh still works", async () => {
    const { gateway } = setup;
    const login = await loginThroughIdp(gateway.url);
    const cookies = await login.cookieHeader();
    const refreshToken = /__Host-portcullis-refresh=([^;]+)/.exec(cookies)?.[1] ?? "";
    // The SDK's first refresh with a proof binds the OIDC session to its key.
    const key = await makeDpopKey("ES256");
    const bind = await refreshWith(gateway, refreshToken, key);
    expect(bind.status).toBe(200);
    const bound = setCookie(bind, REFRESH_COOKIE)?.value ?? "";

    // Node's fetch overwrites Sec-Fetch-Mode: a navigation goes through node:http.
    const navigation = await rawRequest(`${gateway.url}/app/page`, {
      headers: { cookie: refreshCookieHeader(bound), "sec-fetch-mode": "navigate", accept: "text/html" },
    });
    expect(navigation.status).toBe(302);
    expect(navigation.headers["set-cookie"] ?? []).toEqual([]);
    await gateway.waitForLog((line) => line.includes("a DPoP-bound session, and no proof (a navigation)"));

    const again = await refreshWith(gateway, bound, key);
    expect(again.status).toBe(200);
  });
});
