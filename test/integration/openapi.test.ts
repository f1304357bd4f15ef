/**
 * docs/openapi.yaml says what the gateway's own endpoints answer. This drives the bundled
 * gateway through every one of them, success and the main refusals, and checks each answer
 * against the document (status listed for the operation, content type, required headers,
 * JSON body; test/support/openapi-contract.ts). Gateways: production mode with password
 * login and the operator token; one with wrangler.toml's rate limits; one missing a
 * setting (every endpoint 503); one logging in at the test OpenID provider, and one with a
 * second provider in LOGIN_PROVIDERS (the chooser, and that provider's own paths).
 */
import { randomUUID } from "node:crypto";
import { exportJWK, generateKeyPair } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Gateway, startGateway } from "../support/gateway";
import { type OidcSetup, rawRequest, startOidcGateway } from "../support/oidc-gateway";
import { startIdp, type TestIdp } from "../support/oidc-idp";
import { jarFetch, loginThroughIdp } from "../support/oidc-login";
import { type Answer, answerOf, answerOfRaw, type Contract, loadContract } from "../support/openapi-contract";
import { login, REFRESH_COOKIE, refreshCookieHeader } from "../support/session-helpers";
import { TEST_SECRETS } from "../support/test-keys";
import { TEST_USERS } from "../support/upstream";

const EVIL = "https://evil.example";
const ACCESS_COOKIE = "__Host-portcullis-access";
const OPERATOR = { authorization: `Bearer ${TEST_SECRETS.OPERATOR_TOKEN}` };
const LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout";

let contract: Contract;
let gateway: Gateway;

beforeAll(async () => {
  contract = await loadContract();
  gateway = await startGateway();
});
afterAll(() => gateway?.close());

const json = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body),
});
const form = (fields: Record<string, string>, headers: Record<string, string> = {}): RequestInit => ({
  headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
  body: new URLSearchParams(fields).toString(),
});

/** One request; its answer checked against the document's operation `template` (default: the path). */
async function call(
  at: Gateway,
  method: string,
  path: string,
  init: RequestInit = {},
  template = path.split("?")[0] as string,
): Promise<Answer> {
  const answer = await answerOf(await fetch(`${at.url}${path}`, { method, redirect: "manual", ...init }));
  contract.check(method, template, answer);
  return answer;
}

const statusOf = async (answer: Promise<Answer>) => (await answer).status;

describe("password login, refresh, revocation and logout", () => {
  it("log in with JSON or a form; refuse bad credentials, bodies, origins and methods", async () => {
    const alice = { username: "alice", password: TEST_USERS.alice?.password ?? "" };
    expect(await statusOf(call(gateway, "POST", "/auth/login", json(alice)))).toBe(200);
    expect(await statusOf(call(gateway, "POST", "/auth/login", form(alice)))).toBe(200);
    expect(await statusOf(call(gateway, "POST", "/auth/login", json({ ...alice, password: "wrong" })))).toBe(401);
    expect(await statusOf(call(gateway, "POST", "/auth/login", json({ username: "alice" })))).toBe(400);
    expect(await statusOf(call(gateway, "POST", "/auth/login", { ...json(alice), headers: {} }))).toBe(415);
    const big = json({ ...alice, padding: "x".repeat(9 * 1024) });
    expect(await statusOf(call(gateway, "POST", "/auth/login", big))).toBe(413);
    expect(await statusOf(call(gateway, "POST", "/auth/login", json(alice, { origin: EVIL })))).toBe(403);
    // GET /auth/login is the login providers' chooser: none here, so it is POST's alone.
    expect(await statusOf(call(gateway, "GET", "/auth/login"))).toBe(405);
    expect(await statusOf(call(gateway, "DELETE", "/auth/login"))).toBe(405);
  });

  it("refresh by cookie or by form; refuse a missing token, a bad grant, another site, JSON", async () => {
    const session = await login(gateway);
    const byCookie = await call(gateway, "POST", "/auth/refresh", {
      headers: { cookie: refreshCookieHeader(session.refreshToken) },
    });
    expect(byCookie.status).toBe(200);
    const rotated = /__Host-portcullis-refresh=([^;]+)/.exec(byCookie.headers.getSetCookie().join("\n"))?.[1] ?? "";
    const byForm = await call(
      gateway,
      "POST",
      "/auth/refresh",
      form({ grant_type: "refresh_token", refresh_token: rotated }),
    );
    expect(byForm.status).toBe(200);
    expect(JSON.parse(byForm.body).refresh_token).toEqual(expect.any(String));

    expect(await statusOf(call(gateway, "POST", "/auth/refresh"))).toBe(401);
    expect(
      await statusOf(call(gateway, "POST", "/auth/refresh", form({ grant_type: "password", refresh_token: "x" }))),
    ).toBe(400);
    const crossSite = { headers: { cookie: `${REFRESH_COOKIE}=x`, origin: EVIL } };
    expect(await statusOf(call(gateway, "POST", "/auth/refresh", crossSite))).toBe(403);
    expect(await statusOf(call(gateway, "POST", "/auth/refresh", json({})))).toBe(415);
    expect(await statusOf(call(gateway, "GET", "/auth/refresh"))).toBe(405);
  });

  it("revoke known and unknown tokens alike (RFC 7009); refuse a missing token and JSON", async () => {
    const session = await login(gateway);
    expect(await statusOf(call(gateway, "POST", "/auth/revoke", form({ token: session.refreshToken })))).toBe(200);
    expect(await statusOf(call(gateway, "POST", "/auth/revoke", form({ token: session.accessToken })))).toBe(200);
    expect(await statusOf(call(gateway, "POST", "/auth/revoke", form({ token: "unknown" })))).toBe(200);
    expect(await statusOf(call(gateway, "POST", "/auth/revoke", form({ token_type_hint: "access_token" })))).toBe(400);
    expect(await statusOf(call(gateway, "POST", "/auth/revoke", json({ token: "x" })))).toBe(415);
    expect(await statusOf(call(gateway, "GET", "/auth/revoke"))).toBe(405);
  });

  it("log out, with or without a session; refuse another site's logout", async () => {
    const session = await login(gateway);
    const cookie = refreshCookieHeader(session.refreshToken);
    expect(await statusOf(call(gateway, "POST", "/auth/logout", { headers: { cookie, origin: EVIL } }))).toBe(403);
    const auth = { cookie, authorization: `Bearer ${session.accessToken}` };
    const loggedOut = await call(gateway, "POST", "/auth/logout", { headers: auth });
    expect(loggedOut.status).toBe(204);
    expect(loggedOut.headers.getSetCookie().join("\n")).toContain(`${REFRESH_COOKIE}=;`);
    expect(await statusOf(call(gateway, "POST", "/auth/logout"))).toBe(204);
    expect(await statusOf(call(gateway, "GET", "/auth/logout"))).toBe(405);
  });
});

describe("the user's sessions", () => {
  it("list them, end one, end the others; refuse bad tokens, another site, others' sessions", async () => {
    const mine = await login(gateway);
    const second = await login(gateway);
    await login(gateway);
    const someoneElse = await login(gateway, "admin");
    const auth = { authorization: `Bearer ${mine.accessToken}` };

    const listed = await call(gateway, "GET", "/auth/sessions", { headers: auth });
    expect(listed.status).toBe(200);
    expect(JSON.parse(listed.body).sessions).toContainEqual(
      expect.objectContaining({ id: mine.claims.sid, current: true }),
    );
    expect(await statusOf(call(gateway, "GET", "/auth/sessions"))).toBe(401);
    expect(await statusOf(call(gateway, "GET", "/auth/sessions", { headers: { authorization: "Bearer a.b.c" } }))).toBe(
      401,
    );
    const twice = { ...auth, cookie: `${ACCESS_COOKIE}=${mine.accessToken}` };
    expect(await statusOf(call(gateway, "GET", "/auth/sessions", { headers: twice }))).toBe(400);
    const firstPage = await call(gateway, "GET", "/auth/sessions?limit=1", { headers: auth });
    const cursor = JSON.parse(firstPage.body).next_cursor;
    expect(cursor).toEqual(expect.any(String));
    const nextPage = `/auth/sessions?limit=100&cursor=${encodeURIComponent(cursor)}`;
    expect(JSON.parse((await call(gateway, "GET", nextPage, { headers: auth })).body).next_cursor).toBeNull();
    expect(await statusOf(call(gateway, "GET", "/auth/sessions?limit=0", { headers: auth }))).toBe(400);
    expect(await statusOf(call(gateway, "GET", "/auth/sessions?cursor=x", { headers: auth }))).toBe(400);
    expect(await statusOf(call(gateway, "POST", "/auth/sessions", { headers: auth }))).toBe(405);

    const one = "/auth/sessions/{id}";
    const others = `/auth/sessions/${someoneElse.claims.sid}`;
    expect(await statusOf(call(gateway, "DELETE", others, { headers: auth }, one))).toBe(404);
    const byCookie = { cookie: `${ACCESS_COOKIE}=${mine.accessToken}`, origin: EVIL };
    const secondPath = `/auth/sessions/${second.claims.sid}`;
    expect(await statusOf(call(gateway, "DELETE", secondPath, { headers: byCookie }, one))).toBe(403);
    expect(await statusOf(call(gateway, "DELETE", secondPath, { headers: auth }, one))).toBe(204);
    expect(await statusOf(call(gateway, "GET", secondPath, { headers: auth }, one))).toBe(405);

    const revoked = await call(gateway, "POST", "/auth/sessions/revoke-others", { headers: auth });
    expect(JSON.parse(revoked.body).ended).toBeGreaterThanOrEqual(1);
    expect(await statusOf(call(gateway, "POST", "/auth/sessions/revoke-others"))).toBe(401);
    const crossSite = { cookie: `${ACCESS_COOKIE}=${mine.accessToken}`, origin: EVIL };
    expect(await statusOf(call(gateway, "POST", "/auth/sessions/revoke-others", { headers: crossSite }))).toBe(403);
    expect(await statusOf(call(gateway, "GET", "/auth/sessions/revoke-others", { headers: auth }))).toBe(405);
  });
});

describe("the operator endpoints", () => {
  it("list a subject's sessions, end one, log a subject out; refuse without the token", async () => {
    const admin = await login(gateway, "admin");
    const sub = "user-admin";
    expect(await statusOf(call(gateway, "GET", `/auth/operator/sessions?sub=${sub}`, { headers: OPERATOR }))).toBe(200);
    expect(await statusOf(call(gateway, "GET", "/auth/operator/sessions", { headers: OPERATOR }))).toBe(400);
    const badLimit = `/auth/operator/sessions?sub=${sub}&limit=1000`;
    expect(await statusOf(call(gateway, "GET", badLimit, { headers: OPERATOR }))).toBe(400);
    expect(await statusOf(call(gateway, "GET", `/auth/operator/sessions?sub=${sub}`))).toBe(401);
    expect(await statusOf(call(gateway, "POST", "/auth/operator/sessions", { headers: OPERATOR }))).toBe(405);

    const session = "/auth/operator/revoke-session";
    expect(await statusOf(call(gateway, "POST", session, json({ sid: admin.claims.sid }, OPERATOR)))).toBe(200);
    expect(await statusOf(call(gateway, "POST", session, form({ sid: "A".repeat(22) }, OPERATOR)))).toBe(200);
    expect(await statusOf(call(gateway, "POST", session, json({ sid: "not-a-session" }, OPERATOR)))).toBe(400);
    const wrongToken = { authorization: `Bearer ${"x".repeat(40)}` };
    expect(await statusOf(call(gateway, "POST", session, json({ sid: admin.claims.sid }, wrongToken)))).toBe(401);

    const subject = "/auth/operator/revoke-subject";
    expect(await statusOf(call(gateway, "POST", subject, json({ sub }, OPERATOR)))).toBe(200);
    expect(await statusOf(call(gateway, "POST", subject, form({ sub }, OPERATOR)))).toBe(200);
    expect(await statusOf(call(gateway, "POST", subject, json({}, OPERATOR)))).toBe(400);
    expect(await statusOf(call(gateway, "POST", subject, { headers: OPERATOR, body: "sub" }))).toBe(415);
    const huge = json({ sub, padding: "x".repeat(9 * 1024) }, OPERATOR);
    expect(await statusOf(call(gateway, "POST", subject, huge))).toBe(413);
    expect(await statusOf(call(gateway, "POST", subject, json({ sub })))).toBe(401);
    expect(await statusOf(call(gateway, "GET", subject, { headers: OPERATOR }))).toBe(405);
  });
});

describe("service tokens", () => {
  it("create, list, exchange, rotate and revoke a service client; refuse bad clients, grants, scopes and bodies", async () => {
    const clients = "/auth/operator/service-clients";
    const created = await call(
      gateway,
      "POST",
      clients,
      json({ name: "ci", scopes: ["read"], expires_in: 600 }, OPERATOR),
    );
    expect(created.status).toBe(201);
    const { client_id: id, client_secret: secret } = JSON.parse(created.body) as Record<string, string>;
    expect(await statusOf(call(gateway, "POST", clients, json({ name: "ci", scopes: "read" }, OPERATOR)))).toBe(400);
    const { publicKey } = await generateKeyPair("EdDSA");
    const signer = { name: "signer", scopes: [], expires_in: 600, jwk: await exportJWK(publicKey) };
    expect(await statusOf(call(gateway, "POST", clients, json(signer, OPERATOR)))).toBe(201);
    expect(await statusOf(call(gateway, "POST", clients, json({ name: "ci" })))).toBe(401);
    expect(await statusOf(call(gateway, "POST", clients, form({ name: "ci" }, OPERATOR)))).toBe(415);
    const huge = json({ name: "x".repeat(9 * 1024) }, OPERATOR);
    expect(await statusOf(call(gateway, "POST", clients, huge))).toBe(413);
    expect(await statusOf(call(gateway, "GET", clients, { headers: OPERATOR }))).toBe(200);
    expect(await statusOf(call(gateway, "GET", clients))).toBe(401);
    expect(await statusOf(call(gateway, "DELETE", clients, { headers: OPERATOR }))).toBe(405);

    const token = "/auth/token";
    const basic = { authorization: `Basic ${btoa(`${id}:${secret}`)}` };
    expect(await statusOf(call(gateway, "POST", token, form({ grant_type: "client_credentials" }, basic)))).toBe(200);
    const posted = form({ grant_type: "client_credentials", client_id: id ?? "", client_secret: secret ?? "" });
    expect(await statusOf(call(gateway, "POST", token, posted))).toBe(200);
    expect(await statusOf(call(gateway, "POST", token, form({ grant_type: "password" }, basic)))).toBe(400);
    expect(
      await statusOf(call(gateway, "POST", token, form({ grant_type: "client_credentials", scope: "admin" }, basic))),
    ).toBe(400);
    const wrong = { authorization: `Basic ${btoa(`${id}:pcs_${"A".repeat(43)}`)}` };
    expect(await statusOf(call(gateway, "POST", token, form({ grant_type: "client_credentials" }, wrong)))).toBe(401);
    expect(await statusOf(call(gateway, "POST", token, json({ grant_type: "client_credentials" }, basic)))).toBe(415);
    const big = form({ grant_type: "client_credentials", padding: "x".repeat(9 * 1024) }, basic);
    expect(await statusOf(call(gateway, "POST", token, big))).toBe(413);
    expect(await statusOf(call(gateway, "GET", token))).toBe(405);

    const rotate = "/auth/operator/service-clients/{id}/rotate";
    const rotatePath = `${clients}/${id}/rotate`;
    expect(await statusOf(call(gateway, "POST", rotatePath, json({ overlap_seconds: 60 }, OPERATOR), rotate))).toBe(
      200,
    );
    expect(await statusOf(call(gateway, "POST", rotatePath, json({ overlap_seconds: -1 }, OPERATOR), rotate))).toBe(
      400,
    );
    expect(await statusOf(call(gateway, "POST", rotatePath, form({ overlap_seconds: "1" }, OPERATOR), rotate))).toBe(
      415,
    );
    const bigRotation = json({ overlap_seconds: 1, padding: "x".repeat(9 * 1024) }, OPERATOR);
    expect(await statusOf(call(gateway, "POST", rotatePath, bigRotation, rotate))).toBe(413);
    expect(await statusOf(call(gateway, "POST", rotatePath, json({ overlap_seconds: 1 }), rotate))).toBe(401);
    const unknown = `${clients}/${"0".repeat(32)}`;
    expect(
      await statusOf(call(gateway, "POST", `${unknown}/rotate`, json({ overlap_seconds: 1 }, OPERATOR), rotate)),
    ).toBe(404);
    expect(await statusOf(call(gateway, "GET", rotatePath, { headers: OPERATOR }, rotate))).toBe(405);

    const one = "/auth/operator/service-clients/{id}";
    expect(await statusOf(call(gateway, "DELETE", `${clients}/${id}`, { headers: OPERATOR }, one))).toBe(200);
    expect(await statusOf(call(gateway, "DELETE", unknown, { headers: OPERATOR }, one))).toBe(404);
    expect(await statusOf(call(gateway, "DELETE", `${clients}/${id}`, {}, one))).toBe(401);
    expect(await statusOf(call(gateway, "GET", `${clients}/${id}`, { headers: OPERATOR }, one))).toBe(405);
  });
});

describe("the keys, and OpenID Connect endpoints that are not configured", () => {
  it("serves the JWKS; answers 404 at the OIDC endpoints", async () => {
    const keys = await call(gateway, "GET", "/.well-known/jwks.json");
    expect(JSON.parse(keys.body).keys).toContainEqual(expect.objectContaining({ kid: gateway.key.publicJwk.kid }));
    expect(await statusOf(call(gateway, "GET", "/auth/oidc/login?return_to=/"))).toBe(404);
    expect(await statusOf(call(gateway, "GET", "/auth/oidc/callback?code=c&state=s"))).toBe(404);
    const logout = form({ logout_token: "x" });
    expect(await statusOf(call(gateway, "POST", "/auth/oidc/backchannel-logout", logout))).toBe(404);
    expect(await statusOf(call(gateway, "GET", "/auth/login/partner", {}, "/auth/login/{provider}"))).toBe(404);
    const callback = "/auth/login/{provider}/callback";
    expect(await statusOf(call(gateway, "GET", "/auth/login/partner/callback", {}, callback))).toBe(404);
    const backchannel = "/auth/login/{provider}/backchannel-logout";
    expect(await statusOf(call(gateway, "POST", "/auth/login/partner/backchannel-logout", logout, backchannel))).toBe(
      404,
    );
  });
});

describe("wrangler.toml's rate limits", () => {
  it("answer 429 with Retry-After once an account's login attempts run out", async () => {
    const limited = await startGateway({ rateLimits: "wrangler" });
    try {
      const statuses: number[] = [];
      while (!statuses.includes(429) && statuses.length < 12) {
        statuses.push(
          await statusOf(call(limited, "POST", "/auth/login", json({ username: "alice", password: "no" }))),
        );
      }
      expect(statuses.at(-1)).toBe(429);
      expect(new Set(statuses.slice(0, -1))).toEqual(new Set([401]));
    } finally {
      await limited.close();
    }
  });
});

describe("a gateway missing a setting", () => {
  it("answers every operation 503, as documented", async () => {
    const broken = await startGateway({ omit: ["TOKEN_ISSUER"] });
    try {
      for (const operation of contract.operations) {
        const [method = "", template = ""] = operation.split(" ");
        const path = template
          .replace("{id}", "A".repeat(22))
          .replace("{provider}", "partner")
          .replace("/auth/operator/sessions", "$&?sub=x");
        expect(await statusOf(call(broken, method, path, {}, template)), operation).toBe(503);
      }
    } finally {
      await broken.close();
    }
  });
});

describe("login through an OpenID Connect provider", () => {
  let setup: OidcSetup;
  beforeAll(async () => {
    setup = await startOidcGateway();
  });
  afterAll(() => setup?.close());

  it("starts, finishes and ends a login; refuses a foreign return_to and a replayed callback", async () => {
    const oidc = setup.gateway;
    expect(await statusOf(call(oidc, "GET", "/auth/oidc/login?return_to=/after"))).toBe(302);
    expect(await statusOf(call(oidc, "GET", `/auth/oidc/login?return_to=${encodeURIComponent(EVIL)}`))).toBe(400);
    // A browser navigation gets the refusal as a page.
    const page = answerOfRaw(
      await rawRequest(`${oidc.url}/auth/oidc/login?return_to=${encodeURIComponent(EVIL)}`, {
        headers: { "sec-fetch-mode": "navigate", accept: "text/html" },
      }),
    );
    contract.check("GET", "/auth/oidc/login", page);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await statusOf(call(oidc, "POST", "/auth/oidc/login"))).toBe(405);

    const signedIn = await loginThroughIdp(oidc.url, { login: "carol", returnTo: "/after" });
    const callback = await answerOf(signedIn.response as Response);
    contract.check("GET", "/auth/oidc/callback", callback);
    expect(callback.status).toBe(200);
    const replayed = await answerOf(await jarFetch(signedIn.jar, signedIn.callbackUrl));
    contract.check("GET", "/auth/oidc/callback", replayed);
    expect(replayed.status).toBe(400);
    expect(await statusOf(call(oidc, "GET", "/auth/oidc/callback"))).toBe(400);

    const logout = await call(oidc, "POST", "/auth/logout", { headers: { cookie: await signedIn.cookieHeader() } });
    expect(logout.status).toBe(200);
    expect(JSON.parse(logout.body).end_session_url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
  });

  it("ends a provider session by back-channel logout; refuses a bad token and JSON", async () => {
    await loginThroughIdp(setup.gateway.url, { login: "dave" });
    const [sid] = setup.idp.sids("dave");
    const claims = { aud: setup.idp.clientId, iat: Math.floor(Date.now() / 1000), jti: randomUUID(), sid };
    const token = await setup.idp.sign({ ...claims, events: { [LOGOUT_EVENT]: {} } }, { typ: "logout+jwt" });
    const path = "/auth/oidc/backchannel-logout";
    expect(await statusOf(call(setup.gateway, "POST", path, form({ logout_token: token })))).toBe(200);
    expect(await statusOf(call(setup.gateway, "POST", path, form({ logout_token: token })))).toBe(400);
    expect(await statusOf(call(setup.gateway, "POST", path, json({ logout_token: token })))).toBe(415);
    expect(await statusOf(call(setup.gateway, "GET", path))).toBe(405);
  });

  it("answers 503 at the callback while the provider cannot be reached", async () => {
    const pending = await loginThroughIdp(setup.gateway.url, { login: "erin", stopAtCallback: true });
    await setup.idp.down("refused");
    try {
      const answer = await answerOf(await jarFetch(pending.jar, pending.callbackUrl));
      contract.check("GET", "/auth/oidc/callback", answer);
      expect(answer.status).toBe(503);
    } finally {
      await setup.idp.up();
    }
  });
});

describe("several login providers", () => {
  let setup: OidcSetup;
  let partner: TestIdp;
  const start = "/auth/login/{provider}";
  const callback = "/auth/login/{provider}/callback";
  const backchannel = "/auth/login/{provider}/backchannel-logout";
  beforeAll(async () => {
    partner = await startIdp();
    setup = await startOidcGateway({
      vars: {
        PARTNER_CLIENT_SECRET: partner.clientSecret,
        LOGIN_PROVIDERS: JSON.stringify([
          {
            id: "partner",
            issuer: partner.issuer,
            client_id: partner.clientId,
            client_secret_env: "PARTNER_CLIENT_SECRET",
            authorization_params: "prompt=consent",
            email_domains: ["partner.test"],
          },
        ]),
      },
    });
    await partner.registerGateway(setup.gateway.url, {
      redirect_uris: [`${setup.gateway.url}/auth/login/partner/callback`],
      backchannel_logout_uri: `${setup.gateway.url}/auth/login/partner/backchannel-logout`,
    });
  });
  afterAll(async () => {
    await setup?.close();
    await partner?.close();
  });

  it("serves the chooser, routes an address to its provider, refuses a foreign return_to", async () => {
    const at = setup.gateway;
    expect(await statusOf(call(at, "GET", "/auth/login?return_to=/after"))).toBe(200);
    expect(await statusOf(call(at, "GET", "/auth/login?email=bob%40partner.test"))).toBe(302);
    expect(await statusOf(call(at, "GET", `/auth/login?return_to=${encodeURIComponent(EVIL)}`))).toBe(400);
  });

  it("starts and finishes a login at a provider's own paths; refuses unknown ids and replays", async () => {
    const at = setup.gateway;
    expect(await statusOf(call(at, "GET", "/auth/login/partner?return_to=/after", {}, start))).toBe(302);
    expect(
      await statusOf(call(at, "GET", `/auth/login/partner?return_to=${encodeURIComponent(EVIL)}`, {}, start)),
    ).toBe(400);
    expect(await statusOf(call(at, "GET", "/auth/login/nobody", {}, start))).toBe(404);
    expect(await statusOf(call(at, "POST", "/auth/login/partner", {}, start))).toBe(405);

    const signedIn = await loginThroughIdp(at.url, { login: "frank", loginPath: "/auth/login/partner" });
    const finished = await answerOf(signedIn.response as Response);
    contract.check("GET", callback, finished);
    expect(finished.status).toBe(200);
    const replayed = await answerOf(await jarFetch(signedIn.jar, signedIn.callbackUrl));
    contract.check("GET", callback, replayed);
    expect(replayed.status).toBe(400);
    expect(await statusOf(call(at, "GET", "/auth/login/oidc/callback", {}, callback))).toBe(404);
  });

  it("ends the provider's sessions by its own back-channel logout", async () => {
    await loginThroughIdp(setup.gateway.url, { login: "gina", loginPath: "/auth/login/partner" });
    const [sid] = partner.sids("gina");
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: partner.issuer, aud: partner.clientId, iat: now, exp: now + 60, jti: randomUUID(), sid };
    const token = await partner.sign({ ...claims, events: { [LOGOUT_EVENT]: {} } }, { typ: "logout+jwt" });
    const path = "/auth/login/partner/backchannel-logout";
    expect(await statusOf(call(setup.gateway, "POST", path, form({ logout_token: token }), backchannel))).toBe(200);
    expect(await statusOf(call(setup.gateway, "POST", path, form({ logout_token: token }), backchannel))).toBe(400);
    expect(await statusOf(call(setup.gateway, "POST", path, json({ logout_token: token }), backchannel))).toBe(415);
    const nobody = "/auth/login/nobody/backchannel-logout";
    expect(await statusOf(call(setup.gateway, "POST", nobody, form({ logout_token: token }), backchannel))).toBe(404);
  });
});

describe("the document as a whole", () => {
  it("had every operation answer a success, and a 4xx where it lists one", () => {
    for (const operation of contract.operations) {
      const seen = [...(contract.seen.get(operation) ?? [])];
      expect(
        seen.some((status) => status < 400),
        `${operation}: ${seen}`,
      ).toBe(true);
      if (contract.listed(operation).some((status) => status.startsWith("4"))) {
        expect(
          seen.some((status) => status >= 400 && status < 500),
          `${operation}: ${seen}`,
        ).toBe(true);
      }
    }
  });
});
