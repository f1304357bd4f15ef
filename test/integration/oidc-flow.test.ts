/**
 * Login through a real OpenID Connect provider (oidc-provider on 127.0.0.1), without a
 * browser: login → API call → expiry → transparent refresh → explicit refresh → logout,
 * with the IdP's tokens refreshed at the provider along the way, and the answers an
 * unauthenticated browser navigation and API call get.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OidcSetup, rawRequest, startOidcGateway } from "../support/oidc-gateway";
import { continuesTo, loginThroughIdp } from "../support/oidc-login";
import { login, REFRESH_COOKIE, refreshCookieHeader, setCookie } from "../support/session-helpers";
import { decodeClaims, mintToken } from "../support/tokens";

let setup: OidcSetup;

beforeAll(async () => {
  // Skew = the IdP access-token lifetime: every rotation refreshes the IdP's tokens too.
  setup = await startOidcGateway({
    vars: {
      ACCESS_COOKIE: "true",
      OIDC_REFRESH_SKEW_SECONDS: "3600",
      ROUTES: JSON.stringify([
        { path: "/health", public: true },
        { path: "/api/*", unauthenticated: "challenge" },
        { path: "/app/*", unauthenticated: "login" },
      ]),
    },
  });
});
afterAll(() => setup.close());

function cookieOf(response: Response, name: string): string {
  const value = setCookie(response, name)?.value;
  expect(value, name).toBeTruthy();
  return value as string;
}

describe("login through the OIDC provider, end to end", () => {
  it("logs in, calls the API, refreshes transparently and explicitly, and logs out at the provider", async () => {
    const { gateway, idp } = setup;
    const login = await loginThroughIdp(gateway.url, { login: "alice", returnTo: "/orders/7?view=full" });
    const callback = login.response as Response;
    expect(await continuesTo(callback)).toBe("/orders/7?view=full");
    expect(callback.headers.get("referrer-policy")).toBe("no-referrer");
    expect(idp.countTokenRequests("authorization_code", "ok")).toBe(1);
    const refreshToken = cookieOf(callback, REFRESH_COOKIE);
    const accessToken = cookieOf(callback, "__Host-portcullis-access");
    // The browser holds only our small opaque cookies: no IdP token anywhere in them.
    for (const line of callback.headers.getSetCookie()) expect(line.length).toBeLessThan(1200);
    expect(refreshToken).toMatch(/^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);
    const claims = decodeClaims(accessToken);
    expect(claims.sub).toBe("oidc|alice");
    expect(claims.roles).toEqual(["users"]);

    // API call with the session's cookies.
    const api = await gateway.fetch("/orders/7", { headers: { cookie: await login.cookieHeader() } });
    expect(api.status).toBe(200);
    const seen = gateway.upstream.proxied().at(-1);
    expect(seen?.headers["x-auth-subject"]).toBe("oidc|alice");
    expect(seen?.headers["x-auth-roles"]).toBe("users");
    expect(seen?.headers.cookie ?? "").not.toContain("portcullis");

    // Expiry: the access token has expired (as if time had passed) → transparent refresh,
    // which also refreshes the IdP's tokens at the provider, once.
    const expired = await mintToken(gateway.key, {
      claims: {
        sub: claims.sub,
        sid: claims.sid,
        auth_time: claims.auth_time,
        scope: undefined,
        roles: claims.roles,
      } as never,
      iatOffset: -3600,
      ttl: 900,
    });
    const transparent = await gateway.fetch("/orders/7", {
      headers: { authorization: `Bearer ${expired}`, cookie: refreshCookieHeader(refreshToken) },
    });
    expect(transparent.status).toBe(200);
    const rotated = cookieOf(transparent, REFRESH_COOKIE);
    expect(rotated).not.toBe(refreshToken);
    expect(decodeClaims(transparent.headers.get("authorization")?.slice(7) ?? "").sid).toBe(claims.sid);
    expect(idp.countTokenRequests("refresh_token", "ok")).toBe(1);

    // Explicit refresh.
    const explicit = await gateway.fetch("/auth/refresh", {
      method: "POST",
      headers: { cookie: refreshCookieHeader(rotated) },
    });
    expect(explicit.status).toBe(200);
    const next = cookieOf(explicit, REFRESH_COOKIE);
    expect(idp.countTokenRequests("refresh_token", "ok")).toBe(2);
    expect(idp.countTokenRequests("refresh_token", "error")).toBe(0);

    // Logout: our session ends, and the answer says where the provider's session ends.
    const logout = await gateway.fetch("/auth/logout", {
      method: "POST",
      headers: { cookie: refreshCookieHeader(next) },
    });
    expect(logout.status).toBe(200);
    expect(logout.headers.get("cache-control")).toBe("no-store");
    const { end_session_url } = (await logout.json()) as { end_session_url: string };
    const endSession = new URL(end_session_url);
    expect(endSession.origin).toBe(new URL(idp.issuer).origin);
    expect(endSession.searchParams.get("id_token_hint")).toMatch(/^ey/);
    expect(endSession.searchParams.get("post_logout_redirect_uri")).toBe(`${gateway.url}/`);
    expect(endSession.searchParams.get("state")).toBeTruthy();
    expect(setCookie(logout, REFRESH_COOKIE)?.attributes).toContain("Max-Age=0");

    const afterLogout = await gateway.fetch("/auth/refresh", {
      method: "POST",
      headers: { cookie: refreshCookieHeader(next) },
    });
    expect(afterLogout.status).toBe(401);
  });

  it("answers a browser form post to logout with a 303 to the provider's end_session_endpoint", async () => {
    const { gateway, idp } = setup;
    const login = await loginThroughIdp(gateway.url, { login: "bob" });
    const logout = await rawRequest(`${gateway.url}/auth/logout`, {
      method: "POST",
      headers: {
        cookie: await login.cookieHeader(),
        "content-type": "application/x-www-form-urlencoded",
        "sec-fetch-mode": "navigate",
        "sec-fetch-site": "same-origin",
        origin: gateway.url,
      },
      body: "",
    });
    expect(logout.status).toBe(303);
    expect(logout.headers.location?.startsWith(`${new URL(idp.issuer).origin}/`)).toBe(true);
  });

  it("uses client_id + logout_hint instead of a large ID token in the end-session URL", async () => {
    const { gateway, idp } = setup;
    idp.tamperTokenResponse = async (body) =>
      typeof body.id_token === "string"
        ? { ...body, id_token: await idp.sign({ ...decodeClaims(body.id_token), padding: "x".repeat(3000) }) }
        : body;
    let login: Awaited<ReturnType<typeof loginThroughIdp>>;
    try {
      login = await loginThroughIdp(gateway.url, { login: "carol" });
    } finally {
      idp.tamperTokenResponse = undefined;
    }
    expect(await continuesTo(login.response)).toBeDefined();
    const logout = await gateway.fetch("/auth/logout", {
      method: "POST",
      headers: { cookie: await login.cookieHeader() },
    });
    expect(logout.status).toBe(200);
    const url = new URL(((await logout.json()) as { end_session_url: string }).end_session_url);
    expect(url.searchParams.get("id_token_hint")).toBeNull();
    expect(url.searchParams.get("client_id")).toBe(idp.clientId);
    expect(url.searchParams.get("logout_hint")).toBe("carol");
    expect(url.href.length).toBeLessThan(1000);
  });

  it("keeps a session whose provider granted no refresh token (nothing to refresh there)", async () => {
    const { gateway, idp } = setup;
    idp.tamperTokenResponse = async ({ refresh_token: _dropped, ...body }) => body;
    let login: Awaited<ReturnType<typeof loginThroughIdp>>;
    try {
      login = await loginThroughIdp(gateway.url, { login: "dave" });
    } finally {
      idp.tamperTokenResponse = undefined;
    }
    const refreshes = idp.countTokenRequests("refresh_token");
    const refreshed = await gateway.fetch("/auth/refresh", {
      method: "POST",
      headers: { cookie: refreshCookieHeader(cookieOf(login.response as Response, REFRESH_COOKIE)) },
    });
    expect(refreshed.status).toBe(200);
    expect(idp.countTokenRequests("refresh_token")).toBe(refreshes);
  });

  it("keeps the password login working next to the OIDC login", async () => {
    const session = await login(setup.gateway, "alice");
    expect(session.claims.sub).toBe("user-alice");
    const api = await setup.gateway.fetch("/orders/1", { headers: { authorization: `Bearer ${session.accessToken}` } });
    expect(api.status).toBe(200);
    // A password session has no provider session: logout is the plain 204.
    const logout = await setup.gateway.fetch("/auth/logout", {
      method: "POST",
      headers: { cookie: refreshCookieHeader(session.refreshToken) },
    });
    expect(logout.status).toBe(204);
  });
});

describe("the login redirect", () => {
  it("sends the browser to the provider with code, PKCE S256, state and nonce, and a sealed transaction cookie", async () => {
    const response = await setup.gateway.fetch("/auth/oidc/login?return_to=/x");
    expect(response.status).toBe(302);
    expect(response.headers.get("cache-control")).toBe("no-store");
    const location = new URL(response.headers.get("location") ?? "");
    expect(location.origin).toBe(new URL(setup.idp.issuer).origin);
    const params = Object.fromEntries(location.searchParams);
    expect(params).toMatchObject({
      response_type: "code",
      client_id: setup.idp.clientId,
      redirect_uri: `${setup.gateway.url}/auth/oidc/callback`,
      code_challenge_method: "S256",
      scope: "openid profile email offline_access",
      prompt: "consent",
    });
    expect(params.code_challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(params.state).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(params.nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const [cookie = ""] = response.headers.getSetCookie();
    expect(cookie).toMatch(/^__Host-portcullis-oidc-[A-Za-z0-9_-]{16}=v1\./);
    expect(cookie).toContain("Max-Age=600");
    expect(cookie).toContain("HttpOnly");
    expect(cookie).toContain("SameSite=Lax");
    // Nothing of the transaction is readable in the cookie.
    for (const secret of [params.state, params.nonce]) expect(cookie).not.toContain(secret);
  });
});

describe("unauthenticated requests to a protected route", () => {
  it("redirects a browser navigation to the login, carrying return_to", async () => {
    const response = await rawRequest(`${setup.gateway.url}/orders/9?tab=2`, {
      headers: { "sec-fetch-mode": "navigate", accept: "text/html" },
    });
    expect(response.status).toBe(302);
    expect(response.headers.location).toBe(`/auth/oidc/login?return_to=${encodeURIComponent("/orders/9?tab=2")}`);
  });

  it("redirects a GET that accepts text/html when Sec-Fetch-Mode is absent", async () => {
    const response = await rawRequest(`${setup.gateway.url}/orders/9`, { headers: { accept: "text/html,*/*" } });
    expect(response.status).toBe(302);
  });

  it("answers fetch/XHR and API clients with the RFC 6750 401, never a redirect", async () => {
    const variants: Record<string, string>[] = [
      { "sec-fetch-mode": "cors", accept: "text/html" },
      { accept: "application/json" },
      {},
    ];
    for (const headers of variants) {
      const response = await rawRequest(`${setup.gateway.url}/orders/9`, { headers });
      expect(response.status).toBe(401);
      expect(response.headers["www-authenticate"]).toMatch(/^Bearer /);
    }
    const post = await rawRequest(`${setup.gateway.url}/orders/9`, {
      method: "POST",
      headers: { accept: "text/html" },
    });
    expect(post.status).toBe(401);
  });

  it("lets a route rule force the 401 for navigations, or the redirect for scripts", async () => {
    const navigation = { "sec-fetch-mode": "navigate", accept: "text/html" };
    expect((await rawRequest(`${setup.gateway.url}/api/list`, { headers: navigation })).status).toBe(401);
    const forced = await rawRequest(`${setup.gateway.url}/app/home`, { headers: { "sec-fetch-mode": "cors" } });
    expect(forced.status).toBe(302);
    expect(forced.headers.location).toBe(`/auth/oidc/login?return_to=${encodeURIComponent("/app/home")}`);
    expect((await rawRequest(`${setup.gateway.url}/health`, { headers: navigation })).status).toBe(200);
  });
});
