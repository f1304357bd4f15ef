/**
 * The OIDC landing tests' steps and checks in Chromium (test/browser/oidc-landing.test.ts):
 * a page with its {@link BrowserTrail}, the IdP's forms, and what "landed authenticated",
 * "API calls work" and "the loop guard stopped it" mean, each checked the way the upstream,
 * the IdP, the gateway's log and Chromium's own requests saw it.
 */
import type { BrowserContext, Page } from "playwright-core";
import { expect } from "vitest";
import { type BrowserTrail, describeHops, followTrail, type GatewayHop } from "./browser-trail";
import { LANDED_COOKIE, REFRESH_COOKIE } from "./callback-proxy";
import type { LandingSite } from "./oidc-landing-site";

export const PROTECTED_PAGE = "/orders/7";
const API_PATH = "/orders/1";
export const LOGIN_PATH = "/auth/oidc/login";
const CALLBACK_PATH = "/auth/oidc/callback";
const LOOP_STOPPED_TITLE = "Signed in, but the session did not arrive";

export interface Visit {
  readonly page: Page;
  readonly trail: BrowserTrail;
  /** The origin the page uses: the gateway's, or its proxy's. */
  readonly origin: string;
}

export async function visit(site: LandingSite, context: BrowserContext, origin = site.url): Promise<Visit> {
  const page = await context.newPage();
  return { page, origin, trail: followTrail(page, { gateway: origin, idp: site.idp.issuer }) };
}

/** At the IdP: its sign-in form (any name and password), then its consent form. */
export async function signInAtIdp(page: Page, site: LandingSite, login: string): Promise<void> {
  await page.waitForURL((url) => url.origin === site.idp.issuer && url.pathname.startsWith("/interaction/"));
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill("any password at all");
  await page.getByRole("button", { name: "Sign-in" }).click();
  await page.getByRole("button", { name: "Continue" }).click();
}

/** The page's gateway navigations to `path`, after {@link BrowserTrail.settled}. */
export function navigationsTo(trail: BrowserTrail, path: string): GatewayHop[] {
  return trail.gatewayHops.filter((hop) => hop.navigation && hop.path === path);
}

/** The subjects the upstream saw on requests to `path` since `since` requests. */
export function subjectsAt(site: LandingSite, path: string, since: number): unknown[] {
  return site.upstream
    .proxied()
    .slice(since)
    .filter((request) => request.url === path)
    .map((request) => request.headers["x-auth-subject"]);
}

export const grants = (site: LandingSite) => site.idp.countTokenRequests("authorization_code", "ok");
/** The gateway's log line of a session started. */
export const isLogin = (line: string) => line.includes('"event":"login"');

/** Waits for the landing on the protected page and checks it the way the upstream and Chromium saw it. */
export async function expectLandedAs(site: LandingSite, { page, trail, origin }: Visit, login: string, since: number) {
  await page.waitForURL(`${origin}${PROTECTED_PAGE}`);
  await trail.settled();
  const hops = describeHops(trail.gatewayHops);
  expect(subjectsAt(site, PROTECTED_PAGE, since), hops).toEqual([`oidc|${login}`]);
  // The callback rode the provider's cross-site redirect with the Lax transaction cookie only;
  // the landing page's onward navigation is same-site, and Chromium sends the Strict cookie.
  const [callback] = navigationsTo(trail, CALLBACK_PATH);
  expect(
    callback?.cookies.some((name) => name.startsWith("__Host-portcullis-oidc-")),
    hops,
  ).toBe(true);
  expect(callback?.cookies, hops).not.toContain(REFRESH_COOKIE);
  expect(navigationsTo(trail, PROTECTED_PAGE).at(-1), hops).toMatchObject({
    status: 200,
    cookies: [REFRESH_COOKIE, LANDED_COOKIE],
  });
  expect(navigationsTo(trail, LOGIN_PATH), hops).toHaveLength(1);
}

/** The documented way for a page's scripts: a token from POST /auth/refresh, sent as Bearer. */
export async function expectApiCallsWork(site: LandingSite, page: Page, login: string): Promise<void> {
  const since = site.upstream.proxied().length;
  const answers = await page.evaluate(async (apiPath) => {
    const refresh = await fetch("/auth/refresh", { method: "POST" });
    const { access_token: token } = (await refresh.json()) as { access_token?: string };
    const api = await fetch(apiPath, { headers: { authorization: `Bearer ${token}` } });
    return { refresh: refresh.status, hasToken: typeof token === "string" && token !== "", api: api.status };
  }, API_PATH);
  expect(answers).toEqual({ refresh: 200, hasToken: true, api: 200 });
  expect(subjectsAt(site, API_PATH, since)).toEqual([`oidc|${login}`]);
}

/** Ends on the loop guard's page: a 401 that says so, no second login, no session reaching the upstream. */
export async function expectLoopStopped(site: LandingSite, { page, trail, origin }: Visit, since: number) {
  await page.waitForURL(`${origin}${PROTECTED_PAGE}`);
  await expect.poll(() => page.title()).toBe(LOOP_STOPPED_TITLE);
  await trail.settled();
  const hops = describeHops(trail.gatewayHops);
  // The gateway set both cookies (the proxy took the session's out); the landed marker (Lax)
  // arrived, the session did not, so the upstream heard nothing.
  expect(site.proxy.callbacks.at(-1)).toEqual({
    status: 200,
    setCookies: expect.arrayContaining([REFRESH_COOKIE, LANDED_COOKIE]),
  });
  expect(navigationsTo(trail, PROTECTED_PAGE).at(-1), hops).toMatchObject({ status: 401, cookies: [LANDED_COOKIE] });
  expect(navigationsTo(trail, LOGIN_PATH), hops).toHaveLength(1);
  expect(subjectsAt(site, PROTECTED_PAGE, since)).toEqual([]);
  await site.gateway.waitForLog((line) => line.includes('"event":"oidc_login_loop_stopped"'));
}
