/**
 * OpenID Connect Back-Channel Logout 1.0 at POST /auth/oidc/backchannel-logout, against the
 * real test IdP: a user signing out at the IdP ends exactly the Portcullis sessions begun in
 * that IdP session (access tokens and refresh refused), a `sub`-only token ends all of that
 * user's sessions, and every malformed, forged or replayed logout token is a 400 with
 * `Cache-Control: no-store` that changes nothing (the victim's session still works).
 */
import { randomUUID } from "node:crypto";
import { generateKeyPair, type JWTPayload, SignJWT } from "jose";
import type { CookieJar } from "tough-cookie";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OidcSetup, startOidcGateway } from "../support/oidc-gateway";
import { BACKCHANNEL_PATH } from "../support/oidc-idp";
import { continuesTo, loginThroughIdp, logoutAtIdp, newJar } from "../support/oidc-login";
import { REFRESH_COOKIE, refreshCookieHeader, setCookie } from "../support/session-helpers";

const LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout";

let setup: OidcSetup;

beforeAll(async () => {
  setup = await startOidcGateway();
});
afterAll(() => setup?.close());

/** One Portcullis session: its latest refresh cookie and access token. */
interface Session {
  readonly login: string;
  readonly jar: CookieJar;
  refreshToken: string;
  accessToken: string;
}

async function refresh(session: Session): Promise<Response> {
  const response = await setup.gateway.fetch("/auth/refresh", {
    method: "POST",
    headers: { cookie: refreshCookieHeader(session.refreshToken), origin: setup.gateway.url },
  });
  if (response.status === 200) {
    session.refreshToken = setCookie(response, REFRESH_COOKIE)?.value ?? "";
    session.accessToken = ((await response.clone().json()) as { access_token: string }).access_token;
  }
  return response;
}

async function signIn(login: string, jar: CookieJar = newJar()): Promise<Session> {
  const done = await loginThroughIdp(setup.gateway.url, { login, jar, returnTo: "/" });
  expect(await continuesTo(done.response)).toBe("/");
  const refreshToken = setCookie(done.response as Response, REFRESH_COOKIE)?.value;
  expect(refreshToken).toBeTruthy();
  const session: Session = { login, jar, refreshToken: refreshToken ?? "", accessToken: "" };
  expect((await refresh(session)).status).toBe(200);
  return session;
}

async function apiStatus(session: Session): Promise<number> {
  const response = await setup.gateway.fetch("/orders/1", {
    headers: { authorization: `Bearer ${session.accessToken}` },
  });
  await response.body?.cancel();
  return response.status;
}

/** The session works: the API takes its token and its refresh cookie still rotates. */
async function expectAlive(session: Session): Promise<void> {
  expect(await apiStatus(session)).toBe(200);
  expect((await refresh(session)).status).toBe(200);
  expect(await apiStatus(session)).toBe(200);
}

async function expectEnded(session: Session): Promise<void> {
  expect(await apiStatus(session)).toBe(401);
  const refused = await refresh(session);
  expect(refused.status).toBe(401);
}

function postLogoutToken(token: string | undefined, contentType = "application/x-www-form-urlencoded") {
  return setup.gateway.fetch(BACKCHANNEL_PATH, {
    method: "POST",
    headers: { "content-type": contentType },
    body: token === undefined ? "" : new URLSearchParams({ logout_token: token }).toString(),
  });
}

/** A logout token the IdP could have sent, for this IdP `sid` (overrides change or remove claims). */
function logoutClaims(sid: string | undefined, overrides: Record<string, unknown> = {}): JWTPayload {
  const claims: Record<string, unknown> = {
    aud: setup.idp.clientId,
    iat: Math.floor(Date.now() / 1000),
    jti: randomUUID(),
    ...(sid === undefined ? {} : { sid }),
    events: { [LOGOUT_EVENT]: {} },
    ...overrides,
  };
  for (const [name, value] of Object.entries(claims)) if (value === undefined) delete claims[name];
  return claims;
}

function signedLogoutToken(claims: JWTPayload): Promise<string> {
  return setup.idp.sign(claims, { typ: "logout+jwt" });
}

function onlySid(login: string): string {
  const sids = setup.idp.sids(login);
  expect(sids).toHaveLength(1);
  return sids[0] as string;
}

describe("back-channel logout, end to end", () => {
  it("signing out at the IdP ends the sessions begun in that IdP session, and only those", async () => {
    const browser = newJar();
    const first = await signIn("alice", browser);
    const second = await signIn("alice", browser); // a second tab: same IdP session, same sid
    const elsewhere = await signIn("alice"); // another browser: another IdP session
    expect(new Set(setup.idp.sids("alice")).size).toBe(2);

    const before = setup.idp.backchannel.length;
    await logoutAtIdp(setup.idp, browser);
    const posted = setup.idp.backchannel.slice(before);
    expect(posted).toEqual([expect.objectContaining({ ok: true, sub: "alice" })]);

    await expectEnded(first);
    await expectEnded(second);
    await expectAlive(elsewhere);
  });

  it("a logout token naming only the subject ends every session of that user", async () => {
    const one = await signIn("bob");
    const two = await signIn("bob");
    const bystander = await signIn("carol");
    const response = await postLogoutToken(await signedLogoutToken(logoutClaims(undefined, { sub: "bob" })));
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toContain("no-store");
    await expectEnded(one);
    await expectEnded(two);
    await expectAlive(bystander);
  });

  it("ends a session that the IdP logs out programmatically (sid and sub)", async () => {
    const session = await signIn("dave");
    const results = await setup.idp.endSessions("dave");
    expect(results).toEqual([expect.objectContaining({ ok: true })]);
    await expectEnded(session);
  });
});

describe("back-channel logout refuses bad logout tokens, changing nothing", () => {
  let victim: Session;
  let sid: string;

  beforeAll(async () => {
    victim = await signIn("victim");
    sid = onlySid("victim");
  });

  async function otherKeyToken(claims: JWTPayload): Promise<string> {
    const { privateKey } = await generateKeyPair("RS256", { extractable: true });
    // It claims the IdP's key id: only the signature can tell.
    return new SignJWT({ iss: setup.idp.issuer, ...claims })
      .setProtectedHeader({ alg: "RS256", typ: "logout+jwt", kid: setup.idp.signingKid })
      .sign(privateKey);
  }

  function unsigned(claims: JWTPayload): string {
    const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
    return `${part({ alg: "none", typ: "logout+jwt" })}.${part({ iss: setup.idp.issuer, ...claims })}.`;
  }

  const cases: Array<[string, () => Promise<string | undefined>]> = [
    ["signed by another key (forged)", () => otherKeyToken(logoutClaims(sid))],
    ["unsigned (alg none)", async () => unsigned(logoutClaims(sid))],
    [
      "signed with HS256 and the client secret as the key",
      () =>
        new SignJWT({ iss: setup.idp.issuer, ...logoutClaims(sid) })
          .setProtectedHeader({ alg: "HS256", typ: "logout+jwt" })
          .sign(new TextEncoder().encode(setup.idp.clientSecret)),
    ],
    ["carrying a nonce", () => signedLogoutToken(logoutClaims(sid, { nonce: "n-0S6_WzA2Mj" }))],
    ["without the events claim", () => signedLogoutToken(logoutClaims(sid, { events: undefined }))],
    [
      "with events lacking the back-channel logout member",
      () => signedLogoutToken(logoutClaims(sid, { events: { "http://schemas.openid.net/event/other": {} } })),
    ],
    ["with events that is not an object", () => signedLogoutToken(logoutClaims(sid, { events: LOGOUT_EVENT }))],
    ["for another audience", () => signedLogoutToken(logoutClaims(sid, { aud: "another-client" }))],
    ["from another issuer", () => signedLogoutToken(logoutClaims(sid, { iss: "https://idp.evil.example" }))],
    ["issued too long ago", () => signedLogoutToken(logoutClaims(sid, { iat: Math.floor(Date.now() / 1000) - 3600 }))],
    ["without a jti", () => signedLogoutToken(logoutClaims(sid, { jti: undefined }))],
    ["naming neither sid nor sub", () => signedLogoutToken(logoutClaims(undefined))],
    ["naming an unknown sid", () => signedLogoutToken(logoutClaims("no-such-idp-session"))],
    ["not a JWT", async () => "not-a-jwt"],
    ["missing", async () => undefined],
  ];

  it.each(cases)("refuses a logout token %s", async (_name, make) => {
    const response = await postLogoutToken(await make());
    expect(response.status).toBe(400);
    expect(response.headers.get("cache-control")).toContain("no-store");
    await response.body?.cancel();
    await expectAlive(victim);
  });

  it("refuses a body larger than any logout token (413)", async () => {
    const response = await postLogoutToken(`${"a".repeat(20_000)}.b.c`);
    expect(response.status).toBe(413);
    expect(response.headers.get("cache-control")).toContain("no-store");
    await expectAlive(victim);
  });

  it("refuses an ID token posted as a logout token", async () => {
    const idToken = await setup.idp.sign({ sub: "victim", sid, aud: setup.idp.clientId, nonce: "x" });
    const response = await postLogoutToken(idToken);
    expect(response.status).toBe(400);
    await expectAlive(victim);
  });

  it("refuses a JSON body instead of the form (415)", async () => {
    const token = await signedLogoutToken(logoutClaims(sid));
    const response = await setup.gateway.fetch(BACKCHANNEL_PATH, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ logout_token: token }),
    });
    expect(response.status).toBe(415);
    expect(response.headers.get("cache-control")).toContain("no-store");
    await expectAlive(victim);
  });

  it("accepts a valid logout token once and refuses its replay", async () => {
    const target = await signIn("replayed");
    const token = await signedLogoutToken(logoutClaims(onlySid("replayed")));
    const first = await postLogoutToken(token);
    expect(first.status).toBe(200);
    expect(first.headers.get("cache-control")).toContain("no-store");
    await expectEnded(target);
    const again = await postLogoutToken(token);
    expect(again.status).toBe(400);
    expect(again.headers.get("cache-control")).toContain("no-store");
    await expectAlive(victim);
  });
});
