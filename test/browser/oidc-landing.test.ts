/**
 * Coming back from the OpenID Connect provider, in a real headless Chromium (docs/oidc.md,
 * "Coming back from the provider"; test/integration/oidc-landing.test.ts has the same rules
 * with hand-made requests). Only a browser decides what SameSite withholds, so this is the proof.
 *
 * The gateway (bundled, in miniflare, development mode) is at http://localhost:<port> with the
 * documented minimal settings: session cookies SameSite=Strict, no access cookie. The test IdP
 * is at http://127.0.0.1:<port>, another site, so the way back from it is a cross-site
 * navigation. Two providers: one that forces consent at every login (prompt=consent), and one
 * that remembers it and, once given, sends a signed-in browser straight back, as Keycloak
 * does: the case that looped, 16 redirects deep, before the callback answered with a page of
 * its own. The loop guard and the old callback go through a proxy that rewrites the
 * callback's answer on the wire (support/callback-proxy.ts); everything else is Chromium's.
 *
 * The old callback's 303 is emulated to show that these tests would fail without the landing
 * page: Chromium then arrives at return_to without the Strict cookie it was just given.
 */
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "./support/browser";
import { describeHops } from "./support/browser-trail";
import { REFRESH_COOKIE } from "./support/callback-proxy";
import {
  expectApiCallsWork,
  expectLandedAs,
  expectLoopStopped,
  grants,
  isLogin,
  LOGIN_PATH,
  navigationsTo,
  PROTECTED_PAGE,
  signInAtIdp,
  subjectsAt,
  type Visit,
  visit,
} from "./support/landing-checks";
import { buildLandingBundle, type LandingSite, startLandingSite } from "./support/oidc-landing-site";

const WITH_FORMS = ["idp /interaction/:uid", "idp /interaction/:uid"];
const LANDING = ["gateway /auth/oidc/callback", `gateway ${PROTECTED_PAGE}`];
/** Rounds of the old loop before Chromium stops at its 20 redirects. */
const LOOP_ROUNDS = 5;

let bundle: string;
let browser: Browser;

beforeAll(async () => {
  bundle = buildLandingBundle();
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

describe("a provider that forces consent at every login (prompt=consent)", () => {
  let site: LandingSite;
  const contexts: BrowserContext[] = [];
  const freshContext = async () => {
    const context = await browser.newContext();
    contexts.push(context);
    return context;
  };

  beforeAll(async () => {
    site = await startLandingSite({ bundle, authorizationParams: "prompt=consent" });
  });

  afterAll(async () => {
    await Promise.all(contexts.map((context) => context.close().catch(() => undefined)));
    await site?.close();
  });

  it("lands on the protected page authenticated, with one grant and no loop, and its API calls work", async () => {
    const [since, grantsBefore] = [site.upstream.proxied().length, grants(site)];
    const landing = await visit(site, await freshContext());
    await landing.page.goto(`${site.url}${PROTECTED_PAGE}`);
    await signInAtIdp(landing.page, site, "ann");
    await expectLandedAs(site, landing, "ann", since);
    expect(landing.trail.navigations).toEqual([...WITH_FORMS, ...LANDING]);
    expect(landing.trail.idpRequests.filter((request) => request === "GET /auth")).toHaveLength(1);
    expect(grants(site)).toBe(grantsBefore + 1);
    await expectApiCallsWork(site, landing.page, "ann");
  });

  it("loop guard: a browser that keeps no session cookie from the callback ends on the page that says so", async () => {
    const [since, grantsBefore] = [site.upstream.proxied().length, grants(site)];
    site.proxy.rewrite = "drop-session-cookie";
    try {
      const stopped = await visit(site, await freshContext(), site.proxy.url);
      await stopped.page.goto(`${site.proxy.url}${PROTECTED_PAGE}`);
      await signInAtIdp(stopped.page, site, "bea");
      await expectLoopStopped(site, stopped, since);
      expect(stopped.trail.navigations).toEqual([...WITH_FORMS, ...LANDING]);
      expect(stopped.trail.idpRequests.filter((request) => request === "GET /auth")).toHaveLength(1);
      expect(grants(site)).toBe(grantsBefore + 1);
    } finally {
      site.proxy.rewrite = "none";
    }
  });

  it("before the landing page (old callback's 303, emulated): return_to arrives without the Strict cookie, back to the IdP", async () => {
    const [since, grantsBefore] = [site.upstream.proxied().length, grants(site)];
    site.proxy.rewrite = "as-before";
    try {
      const context = await freshContext();
      const old = await visit(site, context, site.proxy.url);
      await old.page.goto(`${site.proxy.url}${PROTECTED_PAGE}`);
      await signInAtIdp(old.page, site, "cid");
      // The browser is sent round again: the IdP's consent form, a third interaction page.
      await expect.poll(() => old.trail.navigations.length).toBe(3);
      await old.page.getByRole("button", { name: "Continue" }).waitFor();
      await old.trail.settled();
      const hops = describeHops(old.trail.gatewayHops);
      // Chromium kept the refresh cookie from the 303, and withheld it from the redirect it led to.
      const kept = await context.cookies(site.proxy.url);
      expect(kept.find((cookie) => cookie.name === REFRESH_COOKIE)).toMatchObject({ sameSite: "Strict" });
      expect(
        navigationsTo(old.trail, PROTECTED_PAGE).map((hop) => [hop.status, hop.cookies]),
        hops,
      ).toEqual([
        [302, []],
        [302, []],
      ]);
      expect(navigationsTo(old.trail, LOGIN_PATH), hops).toHaveLength(2);
      expect(old.trail.navigations).toEqual([...WITH_FORMS, "idp /interaction/:uid"]);
      expect(subjectsAt(site, PROTECTED_PAGE, since)).toEqual([]);
      expect(grants(site)).toBe(grantsBefore + 1);
    } finally {
      site.proxy.rewrite = "none";
    }
  });
});

describe("a provider that remembers the consent (no prompt parameter), as Keycloak does", () => {
  let site: LandingSite;
  /** A browser signed in at the IdP that has consented once: the IdP sends it straight back. */
  let remembering: BrowserContext;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    site = await startLandingSite({ bundle });
    remembering = await browser.newContext();
    contexts.push(remembering);
    const first = await visit(site, remembering);
    await first.page.goto(`${site.url}${PROTECTED_PAGE}`);
    await signInAtIdp(first.page, site, "kim");
    await first.page.waitForURL(`${site.url}${PROTECTED_PAGE}`);
    await first.page.close();
  });

  afterAll(async () => {
    await Promise.all(contexts.map((context) => context.close().catch(() => undefined)));
    await site?.close();
  });

  /**
   * The remembering browser, without any of the gateway's cookies (a new gateway session), on
   * a page of another site that links to the protected page. Following the link, the way to
   * the IdP and back is redirects only, in a navigation another site began. (One the user
   * begins, typed or bookmarked, has no initiator: Chromium does not look back along the
   * redirect chain, and sends Strict cookies at its end, so such a navigation never looped.)
   */
  async function onPortal(origin = site.url): Promise<Visit> {
    await remembering.clearCookies({ domain: "localhost" });
    const portal = await visit(site, remembering, origin);
    await portal.page.goto(site.portalLinkingTo(`${origin}${PROTECTED_PAGE}`));
    return portal;
  }

  const followLink = (page: Page) => page.getByRole("link", { name: "Orders" }).click();

  it("the first login, with the IdP's sign-in and consent forms, lands authenticated", async () => {
    const [since, grantsBefore] = [site.upstream.proxied().length, grants(site)];
    const context = await browser.newContext();
    contexts.push(context);
    const landing = await visit(site, context);
    await landing.page.goto(`${site.url}${PROTECTED_PAGE}`);
    await signInAtIdp(landing.page, site, "lee");
    await expectLandedAs(site, landing, "lee", since);
    expect(landing.trail.navigations).toEqual([...WITH_FORMS, ...LANDING]);
    expect(grants(site)).toBe(grantsBefore + 1);
    await expectApiCallsWork(site, landing.page, "lee");
  });

  it("with the consent remembered, a link from another site goes to the IdP and back without a form and lands (the case that looped)", async () => {
    const [since, grantsBefore] = [site.upstream.proxied().length, grants(site)];
    const landing = await onPortal();
    await followLink(landing.page);
    await expectLandedAs(site, landing, "kim", since);
    expect(landing.trail.navigations).toEqual(["other /portal.html", ...LANDING]);
    expect(landing.trail.idpRequests).toEqual(["GET /auth"]);
    expect(grants(site)).toBe(grantsBefore + 1);
    await expectApiCallsWork(site, landing.page, "kim");
  });

  it("loop guard: with the consent remembered, a browser that keeps no session cookie stops at the page that says so", async () => {
    const [since, grantsBefore] = [site.upstream.proxied().length, grants(site)];
    site.proxy.rewrite = "drop-session-cookie";
    try {
      const stopped = await onPortal(site.proxy.url);
      await followLink(stopped.page);
      await expectLoopStopped(site, stopped, since);
      expect(stopped.trail.navigations).toEqual(["other /portal.html", ...LANDING]);
      expect(stopped.trail.idpRequests).toEqual(["GET /auth"]);
      expect(grants(site)).toBe(grantsBefore + 1);
    } finally {
      site.proxy.rewrite = "none";
    }
  });

  it("before the landing page (old callback's 303, emulated): loops through the IdP until Chromium gives up", async () => {
    const [since, grantsBefore] = [site.upstream.proxied().length, grants(site)];
    const sessionsBefore = site.gateway.logs.filter(isLogin).length;
    site.proxy.rewrite = "as-before";
    try {
      const old = await onPortal(site.proxy.url);
      const failed = old.page.waitForEvent("requestfailed", {
        predicate: (request) => request.isNavigationRequest(),
        timeout: 15_000,
      });
      await followLink(old.page);
      expect((await failed).failure()?.errorText).toBe("net::ERR_TOO_MANY_REDIRECTS");
      await old.trail.settled();
      const hops = describeHops(old.trail.gatewayHops);
      // Each round is four redirects (return_to, login, IdP, callback) and Chromium follows 20:
      // five rounds, the fifth callback's 303 refused. Every arrival at return_to came without
      // the refresh cookie the callback before it had just set, and each callback a session.
      const arrivals = navigationsTo(old.trail, PROTECTED_PAGE);
      expect(
        arrivals.map((hop) => [hop.status, hop.cookies]),
        hops,
      ).toEqual(Array(LOOP_ROUNDS).fill([302, []]));
      expect(old.trail.idpRequests).toEqual(Array(LOOP_ROUNDS).fill("GET /auth"));
      expect(grants(site) - grantsBefore, hops).toBe(LOOP_ROUNDS);
      await site.gateway.waitForLog(isLogin, sessionsBefore + LOOP_ROUNDS);
      expect(subjectsAt(site, PROTECTED_PAGE, since)).toEqual([]);
      expect(old.trail.navigations.filter((place) => place.startsWith("gateway "))).toEqual([]);
    } finally {
      site.proxy.rewrite = "none";
    }
  });
});
