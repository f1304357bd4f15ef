/**
 * Coming back from the provider: with the documented minimal configuration (session cookies
 * SameSite=Strict, no access cookie) a browser lands authenticated, and a browser that still
 * arrives without its session is told so instead of being sent round the login again.
 * Against the real test IdP; navigations are sent with node:http (fetch overwrites
 * Sec-Fetch-Mode).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OidcSetup, rawRequest, startOidcGateway } from "../support/oidc-gateway";
import { continuesTo, loginThroughIdp } from "../support/oidc-login";
import { REFRESH_COOKIE, setCookie } from "../support/session-helpers";

const LANDED = "__Host-portcullis-landed";
const NAVIGATION = { "sec-fetch-mode": "navigate", accept: "text/html" };

let setup: OidcSetup;
beforeAll(async () => {
  setup = await startOidcGateway();
});
afterAll(() => setup.close());

describe("the callback, with SameSite=Strict session cookies (the default)", () => {
  it("hands the browser a page of its own that continues to return_to, so the next navigation is same-site", async () => {
    const login = await loginThroughIdp(setup.gateway.url, { returnTo: "/orders/7?view=full" });
    const page = login.response as Response;
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(page.headers.get("referrer-policy")).toBe("no-referrer");
    expect(await continuesTo(page)).toBe("/orders/7?view=full");
    expect(setCookie(page, REFRESH_COOKIE)?.attributes).toContain("SameSite=Strict");
    const landed = setCookie(page, LANDED);
    expect(landed?.attributes).toContain("SameSite=Lax");
    expect(landed?.attributes).toContain("Max-Age=60");
  });

  it("escapes return_to in the page", async () => {
    const login = await loginThroughIdp(setup.gateway.url, { returnTo: "/a?q=%22%3E%3Cscript%3E&b='x'" });
    const html = await (login.response as Response).text();
    expect(html).not.toContain("<script>");
    expect(html).not.toMatch(/url=[^"]*'/);
    expect(await continuesTo(login.response, html)).toBe("/a?q=%22%3E%3Cscript%3E&b=%27x%27");
  });
});

describe("a navigation that carries only the session's refresh cookie", () => {
  it("is refreshed on the way and reaches the upstream as the user, with the cookie rotated", async () => {
    const login = await loginThroughIdp(setup.gateway.url, { login: "navigator", returnTo: "/orders/7" });
    const cookie = await login.cookieHeader();
    const before = setup.gateway.upstream.proxied().length;
    const answer = await rawRequest(`${setup.gateway.url}/orders/7`, { headers: { ...NAVIGATION, cookie } });
    expect(answer.status).toBe(200);
    const seen = setup.gateway.upstream.proxied().slice(before);
    expect(seen.map((request) => request.headers["x-auth-subject"])).toEqual(["oidc|navigator"]);
    const cookies = String(answer.headers["set-cookie"]);
    expect(cookies).toContain(`${REFRESH_COOKIE}=`);
    // No access cookie without ACCESS_COOKIE: a page's own API calls send theirs in Authorization.
    expect(cookies).not.toContain("__Host-portcullis-access=");
  });

  it("is not a credential for a script's request: those get the 401", async () => {
    const login = await loginThroughIdp(setup.gateway.url, { login: "scripted", returnTo: "/" });
    const response = await setup.gateway.fetch("/orders/7", { headers: { cookie: await login.cookieHeader() } });
    expect(response.status).toBe(401);
  });

  it("with a dead session goes to the login, and the dead cookie is cleared", async () => {
    const answer = await rawRequest(`${setup.gateway.url}/orders/7`, {
      headers: { ...NAVIGATION, cookie: `${REFRESH_COOKIE}=AAAAAAAAAAAAAAAAAAAAAA.${"x".repeat(43)}` },
    });
    expect(answer.status).toBe(302);
    expect(answer.headers.location).toMatch(/^\/auth\/oidc\/login\?return_to=/);
    expect(String(answer.headers["set-cookie"])).toContain(`${REFRESH_COOKIE}=; Max-Age=0`);
  });
});

describe("the loop guard", () => {
  it("answers a navigation that came back from a login without its session with a page, not another login", async () => {
    const tokenRequests = setup.idp.countTokenRequests("authorization_code");
    const answer = await rawRequest(`${setup.gateway.url}/orders/7`, {
      headers: { ...NAVIGATION, cookie: `${LANDED}=1` },
    });
    expect(answer.status).toBe(401);
    expect(answer.headers.location).toBeUndefined();
    expect(answer.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(answer.body).toContain("did not arrive");
    expect(String(answer.headers["set-cookie"])).toContain(`${LANDED}=; Max-Age=0`);
    expect(setup.idp.countTokenRequests("authorization_code")).toBe(tokenRequests);
    await setup.gateway.waitForLog((line) => line.includes('"event":"oidc_login_loop_stopped"'));
  });

  it("still sends a navigation without the marker to the login", async () => {
    const answer = await rawRequest(`${setup.gateway.url}/orders/7`, { headers: NAVIGATION });
    expect(answer.status).toBe(302);
    expect(answer.headers.location).toMatch(/^\/auth\/oidc\/login\?return_to=/);
  });

  it("is cleared by a logout, so the next navigation goes to the login again", async () => {
    const login = await loginThroughIdp(setup.gateway.url, { returnTo: "/" });
    const logout = await setup.gateway.fetch("/auth/logout", {
      method: "POST",
      headers: { cookie: await login.cookieHeader() },
    });
    expect(setCookie(logout, LANDED)?.attributes).toContain("Max-Age=0");
    await logout.body?.cancel();
  });
});

describe("the callback, with SameSite=Lax session cookies", () => {
  it("answers a 303 to return_to: Lax cookies ride the navigation back", async () => {
    const lax = await startOidcGateway({ vars: { COOKIE_SAMESITE: "Lax" } });
    try {
      const login = await loginThroughIdp(lax.gateway.url, { returnTo: "/orders/7" });
      expect(login.response?.status).toBe(303);
      expect(login.response?.headers.get("location")).toBe("/orders/7");
      expect(setCookie(login.response as Response, LANDED)).toBeDefined();
    } finally {
      await lax.close();
    }
  });
});
