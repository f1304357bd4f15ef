/**
 * Step-up in a real headless Chromium against what `npm run dev` runs: `/api/billing/*`
 * asks for a second factor (`acr`, wrangler.toml's development ROUTES), so a browser
 * signed in with a password is sent back through the demo IdP with `acr_values`, signs in
 * again there, and lands on the page it asked for. Its own file: each file gets its own
 * `wrangler dev`, and with it its own LOGIN_IP_LIMIT (10 a minute), which the other OIDC
 * browser tests' logins would use up.
 */
import type { Browser, BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MFA_ACR } from "../../examples/demo-idp/provider-config";
import { launchChromium } from "./support/browser";
import { buildDemo, type DevServer, startDevServer } from "./support/dev-server";
import { signInAtIdp } from "./support/idp-sign-in";

let server: DevServer;
let browser: Browser;
let context: BrowserContext;

beforeAll(async () => {
  buildDemo();
  [server, browser] = await Promise.all([startDevServer(), launchChromium()]);
});

afterAll(async () => {
  await context?.close().catch(() => undefined);
  await browser?.close();
  await server?.stop();
});

describe("step-up in the browser", () => {
  it("steps up: a page that needs a second factor sends the browser to sign in again, and back", async () => {
    // Signed in by navigation alone (the backend-for-frontend way: the session is the cookie).
    context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${server.url}/auth/oidc/login?return_to=${encodeURIComponent("/api/me")}`);
    await signInAtIdp(page, server.idpUrl, "grace");
    await page.waitForURL(`${server.url}/api/me`);
    expect(JSON.parse((await page.locator("body").textContent()) ?? "{}")).toMatchObject({ subject: "oidc|grace" });
    const requested: string[] = [];
    page.on("request", (request) => requested.push(request.url()));

    // A password sign-in is not enough for /api/billing/* (acr = a second factor): the IdP is
    // asked for it (acr_values) and asks for the sign-in again although its own session is
    // live; the browser comes back to the page it asked for.
    await page.goto(`${server.url}/api/billing/summary?month=11`);
    await page.waitForURL((url) => url.origin === server.idpUrl && url.pathname.startsWith("/interaction/"));
    const asked = requested.map((url) => new URL(url).searchParams.get("acr_values"));
    expect(asked).toContain(MFA_ACR);
    await page.locator('input[name="login"]').fill("grace");
    await page.locator('input[name="password"]').fill("any password at all");
    await page.getByRole("button", { name: "Sign-in" }).click();
    // The demo asks for consent at every login (prompt=consent, for a refresh token).
    const billing = `${server.url}/api/billing/summary?month=11`;
    const consent = page.getByRole("button", { name: "Continue" });
    // The loser of the race is left waiting until the page closes: it must not reject unheard.
    await Promise.race([page.waitForURL(billing).catch(() => {}), consent.waitFor().catch(() => {})]);
    if (page.url() !== billing) await consent.click();
    await page.waitForURL(billing);
    expect(JSON.parse((await page.locator("body").textContent()) ?? "{}")).toMatchObject({
      subject: "oidc|grace",
      invoices: 3,
    });
  });
});
