/**
 * One deployment, several login providers (issue 27): the OIDC_* settings' provider ("acme",
 * a real oidc-provider), a second real oidc-provider ("partner", a LOGIN_PROVIDERS entry),
 * and GitHub (the emulation on loopback), beside a GitHub Actions-shaped trusted issuer and
 * a service client. Each login, refresh, logout and back-channel logout per provider; the
 * chooser and its email routing; every mix-up between providers refused; and each identity
 * on the routes its rules allow.
 */

import { SignJWT } from "jose";
import type { CookieJar } from "tough-cookie";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MFA_ACR } from "../../examples/demo-idp/provider-config";
import { type Gateway, startGateway } from "../support/gateway";
import { type GitHubEmulator, startGitHubEmulator } from "../support/github-emulator";
import { type JwksServer, startJwksServer } from "../support/jwks-server";
import { rawRequest, TEST_SEALING_SECRET } from "../support/oidc-gateway";
import { startIdp, type TestIdp } from "../support/oidc-idp";
import { continuesTo, jarFetch, loginThroughIdp, logoutAtIdp, newJar } from "../support/oidc-login";
import { REFRESH_COOKIE, refreshCookieHeader, setCookie } from "../support/session-helpers";
import { makeKey, TEST_SECRETS, type TestKey } from "../support/test-keys";
import { decodeClaims } from "../support/tokens";

const GITHUB_SECRET = "github-client-secret-0123456789abcdef0123";
const ACTIONS_ISSUER = "https://token.actions.githubusercontent.com";
const ACTIONS_AUDIENCE = "https://api.acme.test";

let acme: TestIdp;
let partner: TestIdp;
let github: GitHubEmulator;
/** A GitHub App's user tokens expire and come with refresh tokens (GitHub rotates them). */
let githubApp: GitHubEmulator;
let actionsKeys: JwksServer;
let actions: TestKey;
let gateway: Gateway;

beforeAll(async () => {
  [acme, partner, actions] = await Promise.all([
    startIdp({ accounts: { alice: { groups: ["staff"] } } }),
    startIdp({ accounts: { alice: { groups: ["partners"] } } }),
    makeKey("RS256", "gha-1"),
  ]);
  actionsKeys = await startJwksServer([actions.publicJwk]);
  github = await startGitHubEmulator({
    clients: [{ clientId: "gh-client", clientSecret: GITHUB_SECRET }],
    users: {
      octo: {
        id: 1001,
        name: "Octo Cat",
        emails: [{ email: "octo@acme.test", primary: true, verified: true }],
        orgs: ["acme"],
        teams: [{ org: "acme", slug: "platform" }],
      },
      stranger: { id: 2002, emails: [], orgs: ["elsewhere"], teams: [] },
    },
  });
  github.approveAs = "octo";
  githubApp = await startGitHubEmulator({
    clients: [{ clientId: "gh-app", clientSecret: GITHUB_SECRET }],
    users: { octo: { id: 1001, emails: [], orgs: ["acme"], teams: [] } },
    expiringTokens: true,
  });
  githubApp.approveAs = "octo";
  // The partner's access tokens expire at once, so every session rotation refreshes at it.
  partner.accessTokenTtl = 1;
  gateway = await startGateway({
    vars: {
      PORTCULLIS_ENV: "development",
      ...acme.gatewayVars(),
      OIDC_LABEL: "Acme SSO",
      OIDC_SEALING_SECRET: TEST_SEALING_SECRET,
      OIDC_ROLES_CLAIM: "groups",
      OIDC_AUTHORIZATION_PARAMS: "prompt=consent",
      PARTNER_CLIENT_SECRET: partner.clientSecret,
      // The partner's tokens and login transactions are sealed with a secret of their own.
      PARTNER_SEALING_SECRET: "the-partner-providers-own-sealing-secret-0123",
      GITHUB_CLIENT_SECRET: GITHUB_SECRET,
      LOGIN_PROVIDERS: JSON.stringify([
        {
          id: "partner",
          label: "Partner Co",
          issuer: partner.issuer,
          client_id: partner.clientId,
          client_secret_env: "PARTNER_CLIENT_SECRET",
          authorization_params: "prompt=consent",
          roles_claim: "groups",
          email_domains: ["partner.test"],
          sealing_secret_env: "PARTNER_SEALING_SECRET",
        },
        {
          id: "github",
          kind: "github",
          label: "GitHub",
          url: github.origin,
          client_id: "gh-client",
          client_secret_env: "GITHUB_CLIENT_SECRET",
          orgs: ["acme"],
        },
        {
          id: "github-app",
          kind: "github",
          url: githubApp.origin,
          client_id: "gh-app",
          client_secret_env: "GITHUB_CLIENT_SECRET",
          orgs: ["acme"],
          subject_prefix: "ghapp|",
        },
      ]),
      // Every provider token counts as stale, so each session rotation refreshes it at its
      // provider (GitHub App tokens live 8 hours).
      OIDC_REFRESH_SKEW_SECONDS: "86400",
      TRUSTED_ISSUERS: JSON.stringify([
        {
          id: "github-actions",
          issuer: ACTIONS_ISSUER,
          jwks_url: actionsKeys.url,
          audience: ACTIONS_AUDIENCE,
          subject_prefix: "gha|",
        },
      ]),
      ROUTES: JSON.stringify([
        { path: "/platform/*", roles: ["acme/platform"] },
        { path: "/partners/*", roles: ["partners"] },
        {
          path: "/deploy/*",
          issuers: ["github-actions"],
          require: { claim: "repository", equals: "acme/api" },
        },
        { path: "/reports/*", scopes: ["reports:read"] },
        { path: "/billing/*", acr: [MFA_ACR] },
        { path: "/recent/*", max_auth_age: 600 },
      ]),
    },
  });
  await acme.registerGateway(gateway.url);
  await partner.registerGateway(gateway.url, {
    redirect_uris: [`${gateway.url}/auth/login/partner/callback`],
    backchannel_logout_uri: `${gateway.url}/auth/login/partner/backchannel-logout`,
  });
});

afterAll(async () => {
  await gateway?.close();
  await Promise.all([acme?.close(), partner?.close(), github?.close(), githubApp?.close(), actionsKeys?.close()]);
});

interface Session {
  readonly jar: CookieJar;
  refreshToken: string;
  accessToken: string;
}

async function refresh(session: Session): Promise<Response> {
  const response = await gateway.fetch("/auth/refresh", {
    method: "POST",
    headers: { cookie: refreshCookieHeader(session.refreshToken), origin: gateway.url },
  });
  if (response.status === 200) {
    session.refreshToken = setCookie(response, REFRESH_COOKIE)?.value ?? "";
    session.accessToken = ((await response.clone().json()) as { access_token: string }).access_token;
  }
  return response;
}

/** A session from the callback's answer: its refresh cookie, and a first access token. */
async function sessionFrom(jar: CookieJar, callbackAnswer: Response | undefined): Promise<Session> {
  expect(await continuesTo(callbackAnswer)).toBe("/");
  const refreshToken = setCookie(callbackAnswer as Response, REFRESH_COOKIE)?.value ?? "";
  expect(refreshToken).not.toBe("");
  const session = { jar, refreshToken, accessToken: "" };
  expect((await refresh(session)).status).toBe(200);
  return session;
}

function signIn(provider: "acme" | "partner", login = "alice"): Promise<Session> {
  const loginPath = provider === "acme" ? "/auth/oidc/login" : "/auth/login/partner";
  return loginThroughIdp(gateway.url, { login, loginPath, returnTo: "/" }).then((done) =>
    sessionFrom(done.jar, done.response),
  );
}

/** Through GitHub: the gateway's redirect, the emulator's approval, the callback. */
async function githubCallback(
  jar: CookieJar = newJar(),
  provider: "github" | "github-app" = "github",
): Promise<{ jar: CookieJar; callback: URL }> {
  const start = await jarFetch(jar, `${gateway.url}/auth/login/${provider}?return_to=%2F`);
  expect(start.status).toBe(302);
  const authorize = new URL(start.headers.get("location") ?? "");
  expect(authorize.origin).toBe((provider === "github" ? github : githubApp).origin);
  const approved = await jarFetch(jar, authorize);
  expect(approved.status).toBe(302);
  return { jar, callback: new URL(approved.headers.get("location") ?? "") };
}

async function signInWithGitHub(provider: "github" | "github-app" = "github"): Promise<Session> {
  const { jar, callback } = await githubCallback(newJar(), provider);
  expect(callback.pathname).toBe(`/auth/login/${provider}/callback`);
  return sessionFrom(jar, await jarFetch(jar, callback));
}

async function statusOf(path: string, token: string): Promise<number> {
  const response = await gateway.fetch(path, { headers: { authorization: `Bearer ${token}` } });
  await response.body?.cancel();
  return response.status;
}

describe("the login chooser", () => {
  it("lists every provider as a plain link and offers the email field, with no script", async () => {
    const response = await gateway.fetch("/auth/login?return_to=%2Forders%2F1");
    expect(response.status).toBe(200);
    const csp = response.headers.get("content-security-policy") ?? "";
    expect(csp).toMatch(/default-src 'none'/);
    expect(csp).toMatch(/style-src 'sha256-[A-Za-z0-9+/=]+'/);
    expect(csp).not.toMatch(/script-src/);
    const html = await response.text();
    expect(html).not.toMatch(/<script/i);
    const links = [...html.matchAll(/<a class="button" href="([^"]+)">([^<]+)<\/a>/g)].map((m) => [m[1], m[2]]);
    expect(links).toEqual([
      ["/auth/oidc/login?return_to=%2Forders%2F1", "Sign in with Acme SSO"],
      ["/auth/login/partner?return_to=%2Forders%2F1", "Sign in with Partner Co"],
      ["/auth/login/github?return_to=%2Forders%2F1", "Sign in with GitHub"],
      ["/auth/login/github-app?return_to=%2Forders%2F1", "Sign in with github-app"],
    ]);
    expect(html).toMatch(/<form method="get" action="\/auth\/login">/);
  });

  it("is where an unauthenticated navigation goes when there are several providers", async () => {
    // node:http, not fetch: fetch would send its own Sec-Fetch-Mode.
    const response = await rawRequest(`${gateway.url}/orders/1?x=1`, {
      headers: { accept: "text/html", "sec-fetch-mode": "navigate" },
    });
    expect(response.status).toBe(302);
    expect(response.headers.location).toBe("/auth/login?return_to=%2Forders%2F1%3Fx%3D1");
  });

  it("sends an address of a listed domain straight to its provider with a login_hint", async () => {
    const routed = await gateway.fetch("/auth/login?return_to=%2Fx&email=Bob%40Partner.test");
    expect(routed.status).toBe(302);
    expect(routed.headers.get("location")).toBe("/auth/login/partner?return_to=%2Fx&login_hint=Bob%40Partner.test");
    const start = await gateway.fetch("/auth/login/partner?return_to=%2Fx&login_hint=Bob%40Partner.test");
    const authorize = new URL(start.headers.get("location") ?? "");
    expect(authorize.origin).toBe(new URL(partner.issuer).origin);
    expect(authorize.searchParams.get("login_hint")).toBe("Bob@Partner.test");

    const unknown = await gateway.fetch("/auth/login?email=carol%40elsewhere.test");
    expect(unknown.status).toBe(200);
    expect(await unknown.text()).toContain("No sign-in is set up for that address");
  });

  it("answers a browser's failed login at a provider's callback with a page, not JSON", async () => {
    const answer = await rawRequest(`${gateway.url}/auth/login/partner/callback?code=x&state=forged-state-0123456789`, {
      headers: { accept: "text/html", "sec-fetch-mode": "navigate" },
    });
    expect(answer.status).toBe(400);
    expect(answer.headers["content-type"]).toMatch(/^text\/html/);
  });

  it("refuses what is not a provider or not a path on this origin", async () => {
    expect((await gateway.fetch("/auth/login/nobody")).status).toBe(404);
    expect((await gateway.fetch("/auth/login/nobody/callback")).status).toBe(404);
    expect((await gateway.fetch("/auth/login/oidc/callback")).status).toBe(404);
    expect((await gateway.fetch("/auth/login?return_to=https%3A%2F%2Fevil.test%2F")).status).toBe(400);
    expect((await gateway.fetch("/auth/login/github?return_to=%2F&login_hint=a%20b")).status).toBe(400);
    expect((await gateway.fetch("/auth/login/github/backchannel-logout", { method: "POST" })).status).toBe(404);
  });
});

describe("a session per provider", () => {
  it("namespaces each provider's subjects and maps its groups", async () => {
    const [fromAcme, fromPartner, fromGitHub] = await Promise.all([
      signIn("acme"),
      signIn("partner"),
      signInWithGitHub(),
    ]);
    const claims = [fromAcme, fromPartner, fromGitHub].map((session) => decodeClaims(session.accessToken));
    expect(claims.map((c) => c.sub)).toEqual(["oidc|alice", "partner|alice", "github|1001"]);
    expect(claims[2]).toMatchObject({
      roles: ["acme", "acme/platform"],
      email: "octo@acme.test",
      email_verified: true,
    });

    expect(await statusOf("/platform/status", fromGitHub.accessToken)).toBe(200);
    expect(await statusOf("/platform/status", fromPartner.accessToken)).toBe(403);
    expect(await statusOf("/partners/list", fromPartner.accessToken)).toBe(200);
    expect(await statusOf("/partners/list", fromAcme.accessToken)).toBe(403);
    expect(await statusOf("/orders/1", fromAcme.accessToken)).toBe(200);

    // The user's list of sessions says which provider each one came from.
    const listed = await gateway.fetch("/auth/sessions", {
      headers: { authorization: `Bearer ${fromGitHub.accessToken}` },
    });
    const { sessions } = (await listed.json()) as { sessions: { login_method: string; login_provider: string }[] };
    expect(sessions[0]).toMatchObject({ login_method: "oidc", login_provider: "github" });
  });

  it("refreshes each session at its own provider", async () => {
    const session = await signIn("partner");
    const [partnerBefore, acmeBefore] = [
      partner.countTokenRequests("refresh_token"),
      acme.countTokenRequests("refresh_token"),
    ];
    expect((await refresh(session)).status).toBe(200);
    expect((await refresh(session)).status).toBe(200);
    expect(partner.countTokenRequests("refresh_token", "ok")).toBeGreaterThanOrEqual(partnerBefore + 2);
    expect(acme.countTokenRequests("refresh_token")).toBe(acmeBefore);
    // A GitHub session (no refresh token from GitHub) lives on the gateway's own rotation.
    const fromGitHub = await signInWithGitHub();
    const gitHubTokenRequests = github.countTokenRequests();
    expect((await refresh(fromGitHub)).status).toBe(200);
    expect(github.countTokenRequests()).toBe(gitHubTokenRequests);
  });

  it("logs out at the session's own provider", async () => {
    for (const [provider, origin] of [
      ["acme", new URL(acme.issuer).origin],
      ["partner", new URL(partner.issuer).origin],
    ] as const) {
      const session = await signIn(provider);
      const response = await gateway.fetch("/auth/logout", {
        method: "POST",
        headers: { cookie: refreshCookieHeader(session.refreshToken), origin: gateway.url },
      });
      expect(response.status).toBe(200);
      const { end_session_url } = (await response.json()) as { end_session_url: string };
      expect(new URL(end_session_url).origin).toBe(origin);
      expect(await statusOf("/orders/1", session.accessToken)).toBe(401);
    }
    const fromGitHub = await signInWithGitHub();
    const revokedBefore = github.tokenRevocations;
    const out = await gateway.fetch("/auth/logout", {
      method: "POST",
      headers: { cookie: refreshCookieHeader(fromGitHub.refreshToken), origin: gateway.url },
    });
    // No end-session at GitHub: the session's GitHub token is revoked through GitHub's API.
    expect(out.status).toBe(204);
    expect(github.tokenRevocations).toBe(revokedBefore + 1);
    expect(await statusOf("/orders/1", fromGitHub.accessToken)).toBe(401);
  });

  it("ends only the partner's sessions on the partner's back-channel logout", async () => {
    const [fromAcme, fromPartner] = [await signIn("acme", "dora"), await signIn("partner", "dora")];
    await logoutAtIdp(partner, fromPartner.jar);
    expect(await statusOf("/orders/1", fromPartner.accessToken)).toBe(401);
    expect((await refresh(fromPartner)).status).toBe(401);
    expect(await statusOf("/orders/1", fromAcme.accessToken)).toBe(200);
    expect((await refresh(fromAcme)).status).toBe(200);
  });

  it("refuses a logout token of one provider at another's back-channel path", async () => {
    const session = await signIn("acme", "erin");
    const [sid] = acme.sids("erin");
    const now = Math.floor(Date.now() / 1000);
    const token = await acme.sign(
      {
        iss: acme.issuer,
        aud: acme.clientId,
        iat: now,
        exp: now + 60,
        jti: crypto.randomUUID(),
        sid,
        events: { "http://schemas.openid.net/event/backchannel-logout": {} },
      },
      { typ: "logout+jwt" },
    );
    const elsewhere = await gateway.fetch("/auth/login/partner/backchannel-logout", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ logout_token: token }),
    });
    expect(elsewhere.status).toBe(400);
    expect(await statusOf("/orders/1", session.accessToken)).toBe(200);
  });
});

describe("step-up with several providers", () => {
  /** A browser navigation to `path` carrying only the session's refresh cookie. */
  const navigate = (path: string, session: Session) =>
    rawRequest(`${gateway.url}${path}`, {
      headers: { accept: "text/html", "sec-fetch-mode": "navigate", cookie: refreshCookieHeader(session.refreshToken) },
    });

  it("sends a session back to its own provider for a stronger sign-in", async () => {
    const session = await signIn("partner");
    expect(decodeClaims(session.accessToken).idp).toBe("partner");
    const answer = await navigate("/billing/invoices", session);
    expect(answer.status).toBe(302);
    expect(answer.headers.location).toBe(
      `/auth/login/partner?return_to=%2Fbilling%2Finvoices&acr_values=${encodeURIComponent(MFA_ACR)}`,
    );
  });

  it("offers a GitHub session only the providers that can be asked for one, and GitHub refuses to be asked", async () => {
    const session = await signInWithGitHub();
    expect(decodeClaims(session.accessToken).idp).toBe("github");
    const answer = await navigate("/billing/invoices", session);
    expect(answer.status).toBe(302);
    expect(answer.headers.location).toMatch(/^\/auth\/login\?return_to=%2Fbilling%2Finvoices&acr_values=/);
    const chooser = await (await gateway.fetch(answer.headers.location ?? "")).text();
    const offered = [...chooser.matchAll(/href="\/auth\/(?:oidc\/)?login\/?([a-z-]*)\?/g)].map((m) => m[1]);
    expect(offered).toEqual(["", "partner"]);
    const asked = await gateway.fetch(`/auth/login/github?return_to=%2F&acr_values=${encodeURIComponent(MFA_ACR)}`);
    expect(asked.status).toBe(400);
  });

  it("never counts a GitHub sign-in as recent: GitHub does not say when the user last signed in", async () => {
    const [fromGitHub, fromPartner] = [await signInWithGitHub(), await signIn("partner")];
    expect(await statusOf("/recent/activity", fromPartner.accessToken)).toBe(200);
    const refused = await gateway.fetch("/recent/activity", {
      headers: { authorization: `Bearer ${fromGitHub.accessToken}` },
    });
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toContain('error="insufficient_user_authentication"');
  });
});

describe("mix-up between providers", () => {
  it("refuses a transaction begun for one provider at another's callback", async () => {
    const started = await loginThroughIdp(gateway.url, { loginPath: "/auth/login/partner", stopAtCallback: true });
    const moved = new URL(started.callbackUrl);
    moved.pathname = "/auth/oidc/callback";
    const answer = await jarFetch(started.jar, moved);
    expect(answer.status).toBe(400);
    expect(setCookie(answer, REFRESH_COOKIE)).toBeUndefined();
  });

  it("refuses one provider's code (and iss) in another provider's transaction", async () => {
    const atPartner = await loginThroughIdp(gateway.url, { loginPath: "/auth/login/partner", stopAtCallback: true });
    const atAcme = await loginThroughIdp(gateway.url, { jar: atPartner.jar, stopAtCallback: true });
    const code = atAcme.callbackUrl.searchParams.get("code") ?? "";
    const state = atPartner.callbackUrl.searchParams.get("state") ?? "";

    const withAcmeIss = new URL(`/auth/login/partner/callback`, gateway.url);
    withAcmeIss.search = new URLSearchParams({ code, state, iss: acme.issuer }).toString();
    const first = await jarFetch(atPartner.jar, withAcmeIss);
    expect(first.status).toBe(400);
    expect(setCookie(first, REFRESH_COOKIE)).toBeUndefined();

    // Without the tell-tale `iss`: the partner is asked to redeem a code it never issued.
    const atPartnerAgain = await loginThroughIdp(gateway.url, {
      loginPath: "/auth/login/partner",
      stopAtCallback: true,
    });
    const atAcmeAgain = await loginThroughIdp(gateway.url, { jar: atPartnerAgain.jar, stopAtCallback: true });
    const bare = new URL(`/auth/login/partner/callback`, gateway.url);
    bare.search = new URLSearchParams({
      code: atAcmeAgain.callbackUrl.searchParams.get("code") ?? "",
      state: atPartnerAgain.callbackUrl.searchParams.get("state") ?? "",
      iss: partner.issuer,
    }).toString();
    const second = await jarFetch(atPartnerAgain.jar, bare);
    expect(second.status).toBe(400);
    expect(setCookie(second, REFRESH_COOKIE)).toBeUndefined();
  });

  it("refuses a GitHub callback that names an issuer, or carries another provider's state", async () => {
    const { jar, callback } = await githubCallback();
    const withIss = new URL(callback);
    withIss.searchParams.set("iss", acme.issuer);
    expect((await jarFetch(jar, withIss)).status).toBe(400);

    const atPartner = await loginThroughIdp(gateway.url, { loginPath: "/auth/login/partner", stopAtCallback: true });
    const gh = await githubCallback(atPartner.jar);
    const crossed = new URL(gh.callback);
    crossed.searchParams.set("state", atPartner.callbackUrl.searchParams.get("state") ?? "");
    const answer = await jarFetch(atPartner.jar, crossed);
    expect(answer.status).toBe(400);
    expect(setCookie(answer, REFRESH_COOKIE)).toBeUndefined();
  });
});

describe("GitHub login", () => {
  it("refuses a user in none of the allowed organisations, and starts no session", async () => {
    github.approveAs = "stranger";
    try {
      const { jar, callback } = await githubCallback();
      const answer = await jarFetch(jar, callback);
      expect(answer.status).toBe(400);
      expect(setCookie(answer, REFRESH_COOKIE)).toBeUndefined();
    } finally {
      github.approveAs = "octo";
    }
  });

  it("refreshes a GitHub App's expiring token at GitHub, and ends the session when GitHub ends the grant", async () => {
    const session = await signInWithGitHub("github-app");
    const before = githubApp.countTokenRequests("refresh_token");
    expect((await refresh(session)).status).toBe(200);
    expect(githubApp.countTokenRequests("refresh_token")).toBe(before + 1);
    // GitHub answers a refused refresh with 200 and `bad_refresh_token`: the grant is over.
    githubApp.revokeTokens("octo");
    expect((await refresh(session)).status).toBe(401);
    expect(await statusOf("/orders/1", session.accessToken)).toBe(401);
  });

  it("answers 503 when GitHub cannot be reached, and starts no session", async () => {
    const { jar, callback } = await githubCallback();
    await github.down("503");
    try {
      const answer = await jarFetch(jar, callback);
      expect(answer.status).toBe(503);
      expect(setCookie(answer, REFRESH_COOKIE)).toBeUndefined();
    } finally {
      await github.up();
    }
  });

  it("never logs the GitHub token or the client secret", async () => {
    await signInWithGitHub();
    await gateway.flushLogs();
    const logs = gateway.logs.join("\n");
    expect(logs).not.toContain(GITHUB_SECRET);
    expect(logs).not.toMatch(/gho_[A-Za-z0-9]/);
  });
});

describe("one deployment, every kind of identity on its own routes", () => {
  it("serves people of both providers and GitHub, a CI job and a service, each where its rules allow", async () => {
    const [fromPartner, fromGitHub] = await Promise.all([signIn("partner"), signInWithGitHub()]);
    const now = Math.floor(Date.now() / 1000);
    const ci = await new SignJWT({ repository: "acme/api", ref: "refs/heads/main" })
      .setProtectedHeader({ alg: "RS256", kid: "gha-1" })
      .setIssuer(ACTIONS_ISSUER)
      .setAudience(ACTIONS_AUDIENCE)
      .setSubject("repo:acme/api:ref:refs/heads/main")
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .sign(actions.privateKey);
    const created = await gateway.fetch("/auth/operator/service-clients", {
      method: "POST",
      headers: { authorization: `Bearer ${TEST_SECRETS.OPERATOR_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "reporter", scopes: ["reports:read"], expires_in: 3600 }),
    });
    expect(created.status).toBe(201);
    const client = (await created.json()) as { client_id: string; client_secret: string };
    const exchanged = await gateway.fetch("/auth/token", {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString("base64")}`,
      },
      body: "grant_type=client_credentials",
    });
    expect(exchanged.status).toBe(200);
    const service = ((await exchanged.json()) as { access_token: string }).access_token;

    expect(await statusOf("/deploy/run", ci)).toBe(200);
    expect(await statusOf("/orders/1", ci)).toBe(401);
    expect(await statusOf("/reports/daily", service)).toBe(200);
    expect(await statusOf("/deploy/run", service)).toBe(401);
    expect(await statusOf("/platform/status", fromGitHub.accessToken)).toBe(200);
    expect(await statusOf("/reports/daily", fromGitHub.accessToken)).toBe(403);
    expect(await statusOf("/partners/x", fromPartner.accessToken)).toBe(200);
    expect(await statusOf("/deploy/run", fromPartner.accessToken)).toBe(401);
  });
});
