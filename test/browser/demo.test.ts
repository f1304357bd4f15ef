/**
 * The demo page and portcullis/client in a real browser (headless Chromium)
 * against the real gateway and demo upstream under `wrangler dev`.
 *
 * The access token lives 6 s here (and the gateway allows no clock tolerance), so the
 * tests watch real tokens expire instead of faking the gateway's clock. Each test uses a
 * fresh browser context: its own cookie jar, so its own session.
 */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEV_OPERATOR_TOKEN } from "../../src/config/dev-keys";
import { type DemoBrowser, logIn, type SeenRequest, startDemoBrowser } from "./support/demo-page";
import { type DevServer, ROOT } from "./support/dev-server";

const TOKEN_TTL_SECONDS = 6;
const ARTIFACTS = path.join(ROOT, "test-results/browser");

let demo: DemoBrowser;
let server: DevServer;

beforeAll(async () => {
  await mkdir(ARTIFACTS, { recursive: true });
  demo = await startDemoBrowser(TOKEN_TTL_SECONDS);
  server = demo.server;
});

afterAll(() => demo?.close());

const newContext = () => demo.newContext({ viewport: { width: 1000, height: 1100 } });
const openDemo = (context: BrowserContext, query?: string) => demo.openDemo(context, query);

/** Wait (in real time) until the page shows the access token as expired, then a little more. */
async function waitUntilExpired(page: Page): Promise<void> {
  await page.waitForSelector("#countdown[data-remaining='0']", { timeout: (TOKEN_TTL_SECONDS + 5) * 1000 });
  await page.waitForTimeout(1_100); // `exp` has whole seconds; be past it at the gateway too
}

function refreshes(requests: readonly SeenRequest[]): SeenRequest[] {
  return requests.filter((seen) => seen.method === "POST" && seen.path === "/auth/refresh");
}

function apiCalls(requests: readonly SeenRequest[]): SeenRequest[] {
  return requests.filter((seen) => seen.path === "/api/me");
}

async function statusOf(seen: SeenRequest): Promise<number | undefined> {
  return (await seen.request.response())?.status();
}

/**
 * The line the page logged for its "Call GET /api/me" click, once there is one, whatever the
 * status: a call answered otherwise fails the test at once, naming the status, instead of
 * a 30 s wait for a line that says 200.
 */
async function apiCallLogged(page: Page): Promise<string> {
  const line = page.locator("#event-log li", { hasText: "GET /api/me → " }).first();
  await line.waitFor();
  return ((await line.textContent()) ?? "").trim();
}

async function logText(page: Page): Promise<string> {
  return (await page.locator("#event-log").textContent()) ?? "";
}

describe("demo page with portcullis/client", () => {
  it("logs in, calls the API, and keeps the refresh cookie and the token out of scripts' reach", async () => {
    const { context, requests } = await newContext();
    const page = await openDemo(context);
    expect(await page.locator("#login-section").isVisible()).toBe(true);

    await logIn(page, "alice");
    await page.getByRole("button", { name: "Call GET /api/me" }).click();
    await page.locator("#api-result", { hasText: /^200/ }).waitFor();
    expect(await page.locator("#api-result").textContent()).toContain('"subject": "user-alice"');

    const cookies = await context.cookies(server.url);
    const refresh = cookies.find((cookie) => cookie.name === "__Host-portcullis-refresh");
    expect(refresh).toMatchObject({ httpOnly: true, secure: true, sameSite: "Strict", path: "/" });

    const token = apiCalls(requests)
      .at(-1)
      ?.authorization?.replace(/^(Bearer|DPoP) /, "");
    expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    // A string, so this file needs no DOM types: it runs in the page.
    const visible = (await page.evaluate(
      "({ cookie: document.cookie, local: JSON.stringify({ ...localStorage }), session: JSON.stringify({ ...sessionStorage }) })",
    )) as { cookie: string; local: string; session: string };
    expect(visible.cookie).not.toContain("portcullis");
    expect(visible.cookie).not.toContain(refresh?.value);
    expect(visible.local).not.toContain(token);
    expect(visible.session).not.toContain(token);

    // What the page shows: the session of the token, a countdown that runs, the log.
    const sid = JSON.parse(Buffer.from(token?.split(".")[1] ?? "", "base64url").toString()).sid;
    expect(await page.locator("#session-id").textContent()).toBe(sid);
    const first = Number(await page.locator("#countdown").getAttribute("data-remaining"));
    await expect
      .poll(async () => Number(await page.locator("#countdown").getAttribute("data-remaining")), { timeout: 3_000 })
      .toBeLessThan(first);
    expect(await logText(page)).toContain("Logged in");
  });

  it("refreshes an expired token once for ten parallel calls (client-managed)", async () => {
    const { context, requests } = await newContext();
    const page = await openDemo(context);
    await logIn(page, "admin");
    await page.getByRole("button", { name: "Call GET /api/me" }).click();
    await page.locator("#api-result", { hasText: /^200/ }).waitFor();
    const oldToken = apiCalls(requests).at(-1)?.authorization;
    expect(oldToken).toBeDefined();

    await waitUntilExpired(page);
    // The old token is dead: past its expiry, and (DPoP-bound) worth nothing without the page's key.
    const [, payload = ""] = (oldToken ?? "").split(" ")[1]?.split(".") ?? [];
    const { exp } = JSON.parse(Buffer.from(payload, "base64url").toString()) as { exp: number };
    expect(exp * 1000).toBeLessThan(Date.now());
    const direct = await fetch(`${server.url}/api/me`, { headers: { authorization: oldToken ?? "" } });
    expect(direct.status).toBe(401);
    expect(direct.headers.get("www-authenticate")).toMatch(/error="(invalid_token|invalid_dpop_proof)"/);

    const before = requests.length;
    await page.getByRole("button", { name: "Call it 10 times at once" }).click();
    await page.waitForSelector("#api-result[data-parallel-ok]");
    expect(await page.locator("#api-result").getAttribute("data-parallel-ok")).toBe("10");

    const during = requests.slice(before);
    expect(refreshes(during)).toHaveLength(1);
    expect(await statusOf(refreshes(during)[0] as SeenRequest)).toBe(200);
    const calls = apiCalls(during);
    expect(calls).toHaveLength(10);
    const sent = new Set(calls.map((call) => call.authorization));
    expect(sent.size).toBe(1);
    expect(sent.has(oldToken)).toBe(false);
    expect(await Promise.all(calls.map(statusOf))).toEqual(Array(10).fill(200));

    expect(await page.locator("#refresh-count").textContent()).toBe("1");
    expect(await logText(page)).toContain("Client refreshed the access token");
    expect(await logText(page)).toContain("10 parallel calls to GET /api/me → 10 answered 200");
    await page.screenshot({ path: path.join(ARTIFACTS, "demo-after-refresh.png"), fullPage: true });
    if (process.env.UPDATE_DOCS_SCREENSHOT === "1") {
      await page.screenshot({ path: path.join(ROOT, "docs/demo-after-refresh.png"), fullPage: true });
    }
  });

  it("adopts the token the gateway refreshed transparently and does not refresh itself", async () => {
    const { context, requests } = await newContext();
    const page = await openDemo(context, "?refresh=gateway");
    await logIn(page, "alice");
    await waitUntilExpired(page);

    const before = requests.length;
    await page.getByRole("button", { name: "Call it 10 times at once" }).click();
    await page.waitForSelector("#api-result[data-parallel-ok]");
    expect(await page.locator("#api-result").getAttribute("data-parallel-ok")).toBe("10");
    const parallel = apiCalls(requests.slice(before));
    const issued = await Promise.all(
      parallel.map(async (call) => (await call.request.response())?.headers().authorization),
    );
    // The demo's session is DPoP-bound: the refreshed token comes back in the DPoP scheme.
    expect(issued.every((header) => header?.startsWith("DPoP "))).toBe(true);

    await page.getByRole("button", { name: "Call GET /api/me" }).click();
    await page.locator("#event-log li", { hasText: "GET /api/me → 200" }).first().waitFor();
    const after = requests.slice(before);
    expect(refreshes(after)).toHaveLength(0);
    const next = apiCalls(after).at(-1);
    expect(issued).toContain(next?.authorization);
    expect(await statusOf(next as SeenRequest)).toBe(200);
    expect(Number(await page.locator("#gateway-refresh-count").textContent())).toBeGreaterThanOrEqual(1);
    expect(await logText(page)).toContain("Gateway refreshed the access token transparently");
  });

  it("logs the first tab out when the session is ended in a second tab", async () => {
    const { context } = await newContext();
    const first = await openDemo(context);
    await logIn(first, "admin");
    const sid = await first.locator("#session-id").textContent();

    const second = await openDemo(context);
    await second.waitForSelector("body[data-session=active]");
    expect(await second.locator("#session-id").textContent()).toBe(sid);

    await second.getByRole("button", { name: "Log out everywhere" }).click();
    await first.waitForSelector("body[data-session=none]");
    expect(await first.locator("#login-section").isVisible()).toBe(true);
    expect(await logText(first)).toContain("Session ended: logged out in another tab");
    expect((await logText(first)).match(/Session ended/g)).toHaveLength(1);

    // The session is gone at the gateway too: a new tab finds none.
    const third = await openDemo(context);
    expect(await third.getAttribute("body", "data-session")).toBe("none");
  });

  it("lists the user's sessions and ends another one, which is then logged out", async () => {
    const laptop = await openDemo((await newContext()).context);
    await logIn(laptop, "admin");
    const phone = await openDemo((await newContext()).context);
    await logIn(phone, "admin");
    const phoneSid = (await phone.locator("#session-id").textContent()) ?? "";

    await laptop.getByRole("button", { name: "Show my sessions" }).click();
    const phoneItem = laptop.locator(`#session-list li[data-session-id="${phoneSid}"]`);
    await phoneItem.waitFor();
    const laptopSid = (await laptop.locator("#session-id").textContent()) ?? "";
    expect(await laptop.locator(`#session-list li[data-session-id="${laptopSid}"]`).textContent()).toContain(
      "this session",
    );
    expect(await phoneItem.textContent()).toMatch(/^Chrome on Linux(, [A-Z]{2})? · password · last used/);

    await phoneItem.getByRole("button", { name: "End" }).click();
    await laptop.locator("#event-log li", { hasText: "Ended the session on Chrome on Linux" }).waitFor();
    await phoneItem.waitFor({ state: "detached" });

    // The phone's next call is refused, its refresh too: the page shows it logged out.
    await phone.getByRole("button", { name: "Call GET /api/me" }).click();
    await phone.waitForSelector("body[data-session=none]");
    expect(await logText(phone)).toContain("Session ended: the gateway refused to refresh it");
    // The laptop's session goes on.
    await laptop.getByRole("button", { name: "Call GET /api/me" }).click();
    await laptop.locator("#api-result", { hasText: /^200/ }).waitFor();
  });

  it("lets only one of two tabs refresh when both are due", async () => {
    const { context, requests } = await newContext();
    const first = await openDemo(context);
    await logIn(first, "alice");
    const second = await openDemo(context);
    await second.waitForSelector("body[data-session=active]");
    // The first tab holds the second tab's token: it took at least one from it. (Exactly one
    // was asked before; a second refresh there, for a token already due when that tab listed
    // its sessions on a slow machine, would have made the wait hang for 30 s.)
    await first.locator("#tab-refresh-count", { hasText: /^[1-9]/ }).waitFor();

    await waitUntilExpired(first);
    const before = requests.length;
    await Promise.all([
      first.getByRole("button", { name: "Call GET /api/me" }).click(),
      second.getByRole("button", { name: "Call GET /api/me" }).click(),
    ]);
    for (const page of [first, second]) expect(await apiCallLogged(page)).toMatch(/GET \/api\/me → 200$/);
    const during = requests.slice(before);
    expect(refreshes(during)).toHaveLength(1);
    expect(await Promise.all(apiCalls(during).map(statusOf))).toEqual([200, 200]);
  });

  it("reports a session the operator revoked as ended, once, after one refused refresh", async () => {
    const { context, requests } = await newContext();
    const page = await openDemo(context);
    await logIn(page, "alice");
    const sid = await page.locator("#session-id").textContent();

    const revoked = await fetch(`${server.url}/auth/operator/revoke-session`, {
      method: "POST",
      headers: { authorization: `Bearer ${DEV_OPERATOR_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ sid }),
    });
    expect(revoked.status).toBe(200);

    const before = requests.length;
    await page.getByRole("button", { name: "Call GET /api/me" }).click();
    await page.waitForSelector("body[data-session=none]");
    const during = requests.slice(before);
    expect(await statusOf(apiCalls(during)[0] as SeenRequest)).toBe(401);
    expect(refreshes(during)).toHaveLength(1);
    expect(await statusOf(refreshes(during)[0] as SeenRequest)).toBe(401);
    const text = await logText(page);
    expect(text).toContain("Session ended: the gateway refused to refresh it");
    expect(text.match(/Session ended/g)).toHaveLength(1);
  });
});
