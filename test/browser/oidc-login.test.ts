/**
 * The demo page's "Sign in with the demo identity provider" in a real headless Chromium,
 * against what `npm run dev` runs (scripts/dev.mjs: the demo IdP and wrangler dev): the
 * button, the IdP's own sign-in and consent forms, the way back to the page, an API call.
 * Nothing is driven around the browser: cookies, redirects and SameSite are Chromium's.
 */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "./support/browser";
import { buildDemo, type DevServer, ROOT, startDevServer } from "./support/dev-server";
import { signInAtIdp } from "./support/idp-sign-in";

const ARTIFACTS = path.join(ROOT, "test-results/browser");

let server: DevServer;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  buildDemo();
  await mkdir(ARTIFACTS, { recursive: true });
  [server, browser] = await Promise.all([startDevServer(), launchChromium()]);
});

afterAll(async () => {
  await Promise.all(contexts.map((context) => context.close().catch(() => undefined)));
  await browser?.close();
  await server?.stop();
});

async function newPage(): Promise<{ context: BrowserContext; page: Page; navigations: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1000, height: 1100 } });
  contexts.push(context);
  const page = await context.newPage();
  const navigations: string[] = [];
  page.on("framenavigated", (frame) => {
    if (frame === page.mainFrame()) navigations.push(frame.url());
  });
  return { context, page, navigations };
}

describe("demo page: sign in with the demo identity provider", () => {
  it("goes to the IdP's sign-in, comes back to the page signed in, and calls the API", async () => {
    const { context, page, navigations } = await newPage();
    await page.goto(`${server.url}/demo/`);
    await page.waitForSelector("body[data-ready=true]");
    expect(await page.locator("#login-section").isVisible()).toBe(true);

    await page.getByRole("link", { name: "Sign in with the demo identity provider" }).click();
    await signInAtIdp(page, server.idpUrl, "alice");

    // Back on the demo page (no code or state left in its URL), with a session resumed from the cookie.
    await page.waitForURL(`${server.url}/demo/`);
    await page.waitForSelector("body[data-session=active]");
    expect(navigations.some((url) => url.startsWith(`${server.idpUrl}/interaction/`))).toBe(true);

    await page.getByRole("button", { name: "Call GET /api/me" }).click();
    await page.locator("#api-result", { hasText: /^200/ }).waitFor();
    const answer = (await page.locator("#api-result").textContent()) ?? "";
    expect(answer).toMatch(/"subject": "[^"]*alice"/);
    expect(answer).toContain('"scopes": "read write"');

    // The browser holds the gateway's opaque refresh cookie, out of scripts' reach, and no
    // IdP token: those stay sealed in the gateway's session.
    const cookies = await context.cookies(server.url);
    const refresh = cookies.find((cookie) => cookie.name === "__Host-portcullis-refresh");
    expect(refresh).toMatchObject({ httpOnly: true, secure: true, path: "/" });
    expect(cookies.every((cookie) => !/^ey[\w-]+\.ey/.test(cookie.value))).toBe(true);
    const visible = (await page.evaluate("document.cookie")) as string;
    expect(visible).not.toContain("portcullis");
    await page.screenshot({ path: path.join(ARTIFACTS, "demo-idp-login.png"), fullPage: true });
  });

  it("ends the page's session when the user signs out at the IdP (back-channel logout)", async () => {
    const { page } = await newPage();
    await page.goto(`${server.url}/demo/`);
    await page.waitForSelector("body[data-ready=true]");
    await page.getByRole("link", { name: "Sign in with the demo identity provider" }).click();
    await signInAtIdp(page, server.idpUrl, "erin");
    await page.waitForSelector("body[data-session=active]");

    // At the IdP, in the same browser: its logout page, "Yes, sign me out".
    const idpTab = await page.context().newPage();
    await idpTab.goto(`${server.idpUrl}/session/end`);
    await idpTab.getByRole("button", { name: /sign me out/i }).click();
    await idpTab.waitForURL((url) => url.pathname === "/session/end/success");
    // The IdP posted its logout token to the gateway, which took it (both log it).
    const output = () => server.output.join("");
    await expect.poll(output, { timeout: 10_000 }).toContain("back-channel logout of erin delivered");
    await expect.poll(output, { timeout: 10_000 }).toMatch(/POST \/auth\/oidc\/backchannel-logout 200/);

    // The demo page's refresh is refused now: the gateway ended the session when the IdP
    // posted its logout token, and the page shows the login again.
    await page.reload();
    await page.waitForSelector("body[data-ready=true]");
    expect(await page.locator("body").getAttribute("data-session")).toBe("none");
    expect(await page.locator("#login-section").isVisible()).toBe(true);
  });

  it("logs out here, then offers the IdP's sign-out, which comes back to the page", async () => {
    const { page } = await newPage();
    await page.goto(`${server.url}/demo/`);
    await page.waitForSelector("body[data-ready=true]");
    await page.getByRole("link", { name: "Sign in with the demo identity provider" }).click();
    await signInAtIdp(page, server.idpUrl, "frank");
    await page.waitForSelector("body[data-session=active]");

    await page.getByRole("button", { name: "Log out everywhere" }).click();
    await page.waitForSelector("body[data-session=none]");
    const signOutThere = page.getByRole("link", { name: "sign out there too" });
    await signOutThere.waitFor();
    const href = new URL((await signOutThere.getAttribute("href")) ?? "");
    expect(href.origin).toBe(server.idpUrl);
    expect(href.searchParams.get("id_token_hint")).toBeTruthy();

    await signOutThere.click();
    await page.getByRole("button", { name: /sign me out/i }).click();
    await page.waitForURL((url) => url.origin === server.url && url.pathname === "/demo/");
    await page.waitForSelector("body[data-ready=true]");
    expect(await page.locator("#login-section").isVisible()).toBe(true);
    // The IdP session is gone: signing in again asks for the name and password again.
    await page.getByRole("link", { name: "Sign in with the demo identity provider" }).click();
    await page.waitForURL((url) => url.origin === server.idpUrl);
    await page.locator('input[name="login"]').waitFor();
  });

  it("keeps the page's mode through the round trip (return_to carries the query)", async () => {
    const { page } = await newPage();
    await page.goto(`${server.url}/demo/?refresh=gateway`);
    await page.waitForSelector("body[data-ready=true]");
    await page.getByRole("link", { name: "Sign in with the demo identity provider" }).click();
    await signInAtIdp(page, server.idpUrl, "admin");
    await page.waitForURL(`${server.url}/demo/?refresh=gateway`);
    await page.waitForSelector("body[data-session=active]");
    expect(await page.locator("#mode-name").textContent()).toContain("gateway-managed");
    await page.getByRole("button", { name: "Call GET /api/me" }).click();
    await page.locator("#api-result", { hasText: /^200/ }).waitFor();
    expect(await page.locator("#api-result").textContent()).toContain('"scopes": "read write admin"');
  });
});
