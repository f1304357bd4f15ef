/**
 * Identity-aware routes with real OIDC logins (issue 26): a real oidc-provider issues
 * `groups`, `email_verified`, `acr`, `amr` and `auth_time`; the gateway keeps them with the
 * session, writes them into its own tokens, and judges route rules over them. A route that
 * needs a recent or stronger sign-in (step-up) answers an API call with RFC 9470's
 * challenge and sends a browser through the login with `max_age` / `acr_values`, back to
 * the same page; a provider that does not deliver what was asked is refused at the
 * callback, and a route that still falls short stops instead of looping.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MFA_ACR, PASSWORD_ACR, type SignInAsked } from "../../examples/demo-idp/provider-config";
import type { Gateway } from "../support/gateway";
import { type OidcSetup, rawRequest, startOidcGateway } from "../support/oidc-gateway";
import type { TestIdp } from "../support/oidc-idp";
import {
  continuesTo,
  gatewayCookieHeader,
  idpHops,
  jarFetch,
  loginThroughIdp,
  type newJar,
} from "../support/oidc-login";
import { decodeClaims } from "../support/tokens";
import { CREDENTIAL_CHECK_PATH, TEST_USERS } from "../support/upstream";

const HOUR = 3600;
const ROUTES = [
  { path: "/team/*", require: { all: [{ email_domain: ["example.test"] }, { groups: ["users"] }] } },
  { path: "/finance/*", require: { groups: ["finance"] } },
  { path: "/verified/*", require: { email: ["mallory@example.test", "alice@example.test"] } },
  { path: "/billing/*", acr: [MFA_ACR] },
  { path: "/recent/*", max_auth_age: 60 },
  { path: "/keys/*", amr: ["hwk"] },
];

/** What the test IdP records: alice's single sign-on at the IdP is an hour old unless asked for a fresh one. */
function signIn(_login: string, asked: SignInAsked) {
  const ts = Math.floor(Date.now() / 1000) - (asked.maxAge === undefined ? HOUR : 0);
  return asked.acrValues === undefined
    ? { acr: PASSWORD_ACR, amr: ["pwd"], ts }
    : { acr: asked.acrValues[0], amr: ["pwd", "otp"], ts };
}

let setup: OidcSetup;
let gateway: Gateway;
let idp: TestIdp;

beforeAll(async () => {
  setup = await startOidcGateway({
    vars: { ROUTES: JSON.stringify(ROUTES) },
    idp: {
      signIn,
      // auth_time in every ID token, as Okta, Entra and Keycloak send it.
      client: { require_auth_time: true },
      accounts: { mallory: { email_verified: false } },
    },
  });
  ({ gateway, idp } = setup);
  await idp.registerGateway(gateway.url, { require_auth_time: true });
});
afterAll(() => setup?.close());

/** A browser's jar signed in as `login`, and an access token of that session. */
async function signedIn(login: string) {
  const session = await loginThroughIdp(gateway.url, { login, returnTo: "/team/home" });
  expect(await continuesTo(session.response)).toBe("/team/home");
  const refreshed = await gateway.fetch("/auth/refresh", {
    method: "POST",
    headers: { cookie: await session.cookieHeader(), origin: gateway.url },
  });
  expect(refreshed.status).toBe(200);
  const { access_token: token } = (await refreshed.json()) as { access_token: string };
  return { jar: session.jar, token };
}

const get = (path: string, token: string) => gateway.fetch(path, { headers: { authorization: `Bearer ${token}` } });

/** A browser navigation with the jar's gateway cookies (Node's fetch would overwrite Sec-Fetch-Mode). */
async function navigate(jar: ReturnType<typeof newJar>, path: string) {
  const url = `${gateway.url}${path}`;
  const answer = await rawRequest(url, {
    headers: { "sec-fetch-mode": "navigate", accept: "text/html", cookie: await gatewayCookieHeader(jar, gateway.url) },
  });
  for (const line of [answer.headers["set-cookie"] ?? []].flat()) await jar.setCookie(line, url);
  return answer;
}

describe("the provider's identity claims, in the gateway's own tokens", () => {
  it("carries email, email_verified, acr, amr and the provider's auth_time, which route rules read", async () => {
    const { token } = await signedIn("alice");
    const claims = decodeClaims(token);
    expect(claims).toMatchObject({
      sub: "oidc|alice",
      email: "alice@example.test",
      email_verified: true,
      acr: PASSWORD_ACR,
      amr: ["pwd"],
      roles: ["users"],
    });
    // The IdP's single sign-on is an hour old; the gateway's session began now.
    expect(claims.idp_auth_time).toBeLessThan((claims.auth_time as number) - HOUR + 60);

    const before = gateway.upstream.proxied().length;
    expect((await get("/team/home", token)).status).toBe(200);
    const finance = await get("/finance/report", token);
    expect(finance.status).toBe(403);
    expect(((await finance.json()) as { error: string }).error).toBe("insufficient_scope");
    expect(gateway.upstream.proxied().length).toBe(before + 1);
  });

  it("an email the provider has not verified does not pass an email rule", async () => {
    const { token } = await signedIn("mallory");
    expect(decodeClaims(token)).toMatchObject({ email: "mallory@example.test", email_verified: false });
    expect((await get("/verified/x", token)).status).toBe(403);
    expect((await get("/team/x", token)).status).toBe(403);
  });
});

describe("step-up for an API call: RFC 9470", () => {
  it("a weaker sign-in than the route asks gets insufficient_user_authentication with acr_values", async () => {
    const { token } = await signedIn("alice");
    const before = gateway.upstream.proxied().length;
    const answer = await get("/billing/invoices", token);
    expect(answer.status).toBe(401);
    expect(answer.headers.get("www-authenticate")).toBe(
      `Bearer realm="portcullis", error="insufficient_user_authentication", error_description="A stronger sign-in is required", acr_values="${MFA_ACR}"`,
    );
    expect(await answer.json()).toMatchObject({ error: "insufficient_user_authentication", acr_values: MFA_ACR });
    expect(gateway.upstream.proxied().length).toBe(before);
  });

  it("an old sign-in gets max_age, and a token that says nothing of its sign-in is refused too", async () => {
    const { token } = await signedIn("alice");
    const answer = await get("/recent/x", token);
    expect(answer.status).toBe(401);
    expect(answer.headers.get("www-authenticate")).toContain('error="insufficient_user_authentication"');
    expect(answer.headers.get("www-authenticate")).toContain('max_age="60"');
  });

  it("a password login reports acr and amr through the credential check, which the rules read", async () => {
    gateway.upstream.route(CREDENTIAL_CHECK_PATH, async (request, response) => {
      const body = JSON.parse(Buffer.concat(await request.toArray()).toString("utf8"));
      const user = TEST_USERS[body.username];
      if (!user || user.password !== body.password) return void response.writeHead(401).end();
      const amr = body.username === "admin" ? ["pwd", "hwk"] : ["pwd"];
      response
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ sub: user.sub, scope: user.scope, email: `${body.username}@corp.test`, acr: "1", amr }));
    });
    try {
      const tokenOf = async (username: string) => {
        const login = await gateway.fetch("/auth/login", {
          method: "POST",
          headers: { "content-type": "application/json", origin: gateway.url },
          body: JSON.stringify({ username, password: TEST_USERS[username]?.password }),
        });
        expect(login.status).toBe(200);
        return ((await login.json()) as { access_token: string }).access_token;
      };
      const admin = await tokenOf("admin");
      expect(decodeClaims(admin)).toMatchObject({ email: "admin@corp.test", acr: "1", amr: ["pwd", "hwk"] });
      expect((await get("/keys/rotate", admin)).status).toBe(200);
      const alice = await tokenOf("alice");
      expect((await get("/keys/rotate", alice)).status).toBe(401);
      // A fresh password login is a recent sign-in.
      expect((await get("/recent/x", alice)).status).toBe(200);
    } finally {
      gateway.upstream.unroute(CREDENTIAL_CHECK_PATH);
    }
  });
});

/**
 * A browser that just signed in as `login` and landed on its first page. The login's
 * "landed" marker is still there (a minute): a plain login is not a step-up, so it must not
 * stop the step-up's redirect.
 */
async function browserSignedIn(login: string) {
  const session = await loginThroughIdp(gateway.url, { login, returnTo: "/team/home" });
  expect(await continuesTo(session.response)).toBe("/team/home");
  const landed = await navigate(session.jar, "/team/home");
  expect(landed.status, landed.body).toBe(200);
  expect(await gatewayCookieHeader(session.jar, gateway.url)).toContain("__Host-portcullis-landed=1");
  return session.jar;
}

describe("step-up for a browser: through the login and back", () => {
  it("asks the provider for acr_values and returns to the same page at that level", async () => {
    const jar = await browserSignedIn("alice");
    const first = await navigate(jar, "/billing/invoices?year=2026");
    expect(first.status).toBe(302);
    expect(first.headers.location).toBe(
      `/auth/oidc/login?return_to=${encodeURIComponent("/billing/invoices?year=2026")}&acr_values=${encodeURIComponent(MFA_ACR)}`,
    );
    const start = await jarFetch(jar, `${gateway.url}${first.headers.location}`);
    const authorization = new URL(start.headers.get("location") as string);
    expect(authorization.searchParams.get("acr_values")).toBe(MFA_ACR);
    const callback = await jarFetch(jar, await idpHops(authorization, jar, "alice"));
    expect(await continuesTo(callback)).toBe("/billing/invoices?year=2026");

    const before = gateway.upstream.proxied().length;
    const landed = await navigate(jar, "/billing/invoices?year=2026");
    expect(landed.status).toBe(200);
    const seen = gateway.upstream.proxied().slice(before);
    expect(seen).toHaveLength(1);
    const forwarded = String(seen[0]?.headers.authorization).replace(/^Bearer /, "");
    expect(decodeClaims(forwarded)).toMatchObject({ sub: "oidc|alice", acr: MFA_ACR, amr: ["pwd", "otp"] });
  });

  it("asks for max_age when the sign-in at the provider is too old, and checks the new auth_time", async () => {
    const jar = await browserSignedIn("alice");
    const first = await navigate(jar, "/recent/page");
    expect(first.status).toBe(302);
    expect(first.headers.location).toBe(`/auth/oidc/login?return_to=${encodeURIComponent("/recent/page")}&max_age=60`);
    const start = await jarFetch(jar, `${gateway.url}${first.headers.location}`);
    const authorization = new URL(start.headers.get("location") as string);
    expect(authorization.searchParams.get("max_age")).toBe("60");
    const callback = await jarFetch(jar, await idpHops(authorization, jar, "alice"));
    expect(await continuesTo(callback)).toBe("/recent/page");
    expect((await navigate(jar, "/recent/page")).status).toBe(200);
  });

  it("stops, instead of looping, when the new sign-in still falls short", async () => {
    const jar = await browserSignedIn("alice");
    const first = await navigate(jar, "/keys/list");
    // amr cannot be asked for in OIDC: a fresh sign-in is the most the login can ask.
    expect(first.headers.location).toBe(`/auth/oidc/login?return_to=${encodeURIComponent("/keys/list")}&max_age=0`);
    const start = await jarFetch(jar, `${gateway.url}${first.headers.location}`);
    const callback = await jarFetch(jar, await idpHops(new URL(start.headers.get("location") as string), jar, "alice"));
    expect(
      await continuesTo(callback),
      gateway.logs
        .filter((l) => l.includes("login"))
        .slice(-3)
        .join("\n"),
    ).toBe("/keys/list");
    const again = await navigate(jar, "/keys/list");
    expect(again.status).toBe(401);
    expect(again.body).toContain("Signed in, but not as this page requires");
  });
});

describe("a provider that does not deliver what was asked", () => {
  it.each([
    ["acr_values ignored", { acr_values: MFA_ACR }, { acr: PASSWORD_ACR }],
    ["max_age ignored", { max_age: "60" }, { ts: Math.floor(Date.now() / 1000) - HOUR }],
  ])("%s: the callback refuses, and the session the browser had still works", async (_name, query, answer) => {
    const stubborn = await startOidcGateway({
      idp: {
        client: { require_auth_time: true },
        signIn: (_login, asked) => ({ acr: asked.acrValues?.[0] ?? PASSWORD_ACR, amr: ["pwd"], ...answer }),
      },
    });
    try {
      const session = await loginThroughIdp(stubborn.gateway.url, { login: "alice" });
      const cookiesBefore = await session.cookieHeader();
      const start = await jarFetch(
        session.jar,
        `${stubborn.gateway.url}/auth/oidc/login?${new URLSearchParams({ return_to: "/x", ...query })}`,
      );
      const callback = await jarFetch(
        session.jar,
        await idpHops(new URL(start.headers.get("location") as string), session.jar, "alice"),
      );
      expect(callback.status).toBe(400);
      expect(callback.headers.getSetCookie().filter((line) => !line.startsWith("__Host-portcullis-login"))).toEqual([]);
      const refreshed = await stubborn.gateway.fetch("/auth/refresh", {
        method: "POST",
        headers: { cookie: cookiesBefore, origin: stubborn.gateway.url },
      });
      expect(refreshed.status).toBe(200);
    } finally {
      await stubborn.close();
    }
  });

  it("refuses a login request whose step-up parameters are not well formed", async () => {
    for (const query of ["max_age=-1", "max_age=1e3", "acr_values=a%20%20b", `acr_values=${"x".repeat(300)}`]) {
      const answer = await gateway.fetch(`/auth/oidc/login?return_to=/x&${query}`);
      expect(answer.status, query).toBe(400);
    }
  });
});
