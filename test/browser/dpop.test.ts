/**
 * DPoP (RFC 9449) in a real browser: the demo page and portcullis/client in headless
 * Chromium against the real gateway under `wrangler dev` with the development settings
 * (DPoP optional, so a session is bound because the SDK asked for it; no server nonces,
 * which test/unit/client and test/integration/dpop-sessions.test.ts cover). What is tested
 * is what the key is for: it cannot be copied out of the browser, it stays the same across
 * reloads and tabs, and the credentials that can be copied (the access token, the refresh
 * cookie) are refused anywhere else.
 *
 * Each test uses a fresh browser context: its own cookie jar and its own IndexedDB, so its
 * own key and session.
 */
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DemoBrowser, logIn, type SeenRequest, startDemoBrowser } from "./support/demo-page";
import type { DevServer } from "./support/dev-server";
import {
  claimsOf,
  ForeignKeyHolder,
  READ_STORED_KEY,
  type StoredKeyFacts,
  thumbprintOf,
  tokenOf,
} from "./support/dpop-page";

const TOKEN_TTL_SECONDS = 6;
const REFRESH_COOKIE = "__Host-portcullis-refresh";

let demo: DemoBrowser;
let server: DevServer;

beforeAll(async () => {
  demo = await startDemoBrowser(TOKEN_TTL_SECONDS);
  server = demo.server;
});

afterAll(() => demo?.close());

const newContext = () => demo.newContext();
const openDemo = (context: BrowserContext, query?: string) => demo.openDemo(context, query);

/** The thumbprint the page shows, once the client has its key. */
async function shownThumbprint(page: Page): Promise<string> {
  await page.waitForSelector("#dpop-thumbprint[data-thumbprint]");
  return (await page.getAttribute("#dpop-thumbprint", "data-thumbprint")) ?? "";
}

async function callApi(page: Page): Promise<string> {
  await page.getByRole("button", { name: "Call GET /api/me" }).click();
  await page.locator("#api-result", { hasText: /^\d{3}/ }).waitFor();
  return (await page.locator("#api-result").textContent()) ?? "";
}

function lastCall(requests: readonly SeenRequest[], path: string): SeenRequest {
  const found = requests.filter((seen) => seen.path === path).at(-1);
  if (found === undefined) throw new Error(`the page sent no request to ${path}`);
  return found;
}

describe("the browser's DPoP key", () => {
  it("is kept in IndexedDB, and not even the page's own script can export its private half", async () => {
    const { context } = await newContext();
    const page = await openDemo(context);
    const thumbprint = await shownThumbprint(page);
    expect(thumbprint).toMatch(/^[\w-]{43}$/);

    const stored = (await page.evaluate(READ_STORED_KEY)) as StoredKeyFacts;
    expect(stored.found).toBe(true);
    expect(stored.extractable).toBe(false);
    expect(stored.algorithm).toEqual({ name: "ECDSA", namedCurve: "P-256" });
    expect(stored.usages).toEqual(["sign"]);
    expect(stored.exportAttempts).toEqual({
      jwk: "InvalidAccessError",
      pkcs8: "InvalidAccessError",
      raw: "InvalidAccessError",
    });
    expect(Object.keys(stored.publicJwk).sort()).not.toContain("d");
    expect(await thumbprintOf(stored.publicJwk)).toBe(thumbprint);
  });

  it("survives a reload, and the session bound to it goes on", async () => {
    const { context, requests } = await newContext();
    const page = await openDemo(context);
    const thumbprint = await shownThumbprint(page);
    await logIn(page, "alice");
    expect(await page.getAttribute("body", "data-binding")).toBe("dpop");

    await page.reload();
    await page.waitForSelector("body[data-ready=true]");
    expect(await shownThumbprint(page)).toBe(thumbprint);
    expect(await page.getAttribute("body", "data-session")).toBe("active"); // resumed with a proof by the same key
    expect(await callApi(page)).toMatch(/^200/);
    const call = lastCall(requests, "/api/me");
    expect(call.authorization).toMatch(/^DPoP /);
    expect(claimsOf(tokenOf(call.authorization)).cnf?.jkt).toBe(thumbprint);
  });

  it("is one key for two tabs opened at the same moment, and both use the session", async () => {
    const { context } = await newContext();
    const [first, second] = await Promise.all([openDemo(context), openDemo(context)]);
    const [a, b] = await Promise.all([shownThumbprint(first), shownThumbprint(second)]);
    expect(a).toBe(b);

    await logIn(first, "admin");
    await second.reload();
    await second.waitForSelector("body[data-session=active]");
    expect(await callApi(second)).toMatch(/^200/);
    expect(await callApi(first)).toMatch(/^200/);
  });
});

describe("credentials copied out of the browser", () => {
  it("the access token is refused from Node, as Bearer and with another key's proof, while the page goes on", async () => {
    const { context, requests } = await newContext();
    const page = await openDemo(context);
    const thumbprint = await shownThumbprint(page);
    await logIn(page, "alice");
    expect(await page.locator("#token-binding").textContent()).toMatch(/^DPoP: bound to this browser's key/);
    const login = lastCall(requests, "/auth/login");
    expect(login.proof).toBeDefined();
    expect(await (await login.request.response())?.json()).toMatchObject({ token_type: "DPoP" });

    expect(await callApi(page)).toMatch(/^200/);
    const call = lastCall(requests, "/api/me");
    expect(call.authorization).toMatch(/^DPoP /);
    expect(call.proof).toBeDefined();
    const token = tokenOf(call.authorization);
    expect(claimsOf(token).cnf?.jkt).toBe(thumbprint);
    const url = `${server.url}/api/me`;

    const asBearer = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
    expect(asBearer.status).toBe(401);
    expect(asBearer.headers.get("www-authenticate")).toMatch(/DPoP .*error="invalid_token"/);

    const withoutProof = await fetch(url, { headers: { authorization: `DPoP ${token}` } });
    expect(withoutProof.status).toBe(401);

    const attacker = new ForeignKeyHolder();
    expect(await attacker.thumbprint()).not.toBe(thumbprint);
    const withForeignProof = await attacker.send("GET", url, { authorization: `DPoP ${token}` }, token);
    expect(withForeignProof.status).toBe(401);
    expect(withForeignProof.headers.get("www-authenticate")).toMatch(/error="(invalid_token|invalid_dpop_proof)"/);

    // The page's own proof, lifted with the token, was used once already.
    const replayed = await fetch(url, { headers: { authorization: `DPoP ${token}`, dpop: call.proof ?? "" } });
    expect(replayed.status).toBe(401);
    expect(replayed.headers.get("www-authenticate")).toMatch(/error="invalid_dpop_proof"/);

    expect(await callApi(page)).toMatch(/^200/);
    expect(await page.getAttribute("body", "data-session")).toBe("active");
  });

  it("the refresh cookie is refused from Node without the key's proof, which ends the session", async () => {
    const { context } = await newContext();
    const page = await openDemo(context);
    await logIn(page, "admin");
    const cookie = (await context.cookies(server.url)).find((candidate) => candidate.name === REFRESH_COOKIE);
    expect(cookie?.httpOnly).toBe(true);

    const stolen = await fetch(`${server.url}/auth/refresh`, {
      method: "POST",
      headers: { cookie: `${REFRESH_COOKIE}=${cookie?.value}` },
    });
    expect(stolen.status).toBe(401);
    expect(await stolen.json()).toMatchObject({ error: "invalid_grant" });

    // Treated as a stolen cookie: the session is over for the page too (its token is
    // revoked; its own refresh is then refused).
    await expect
      .poll(
        async () => {
          if ((await page.getAttribute("body", "data-session")) === "active") {
            await page
              .getByRole("button", { name: "Call GET /api/me" })
              .click({ timeout: 2_000 })
              .catch(() => undefined);
          }
          return page.getAttribute("body", "data-session");
        },
        { timeout: 20_000, interval: 500 },
      )
      .toBe("none");
    expect(await page.locator("#event-log").textContent()).toContain("Session ended");
  });

  it("the refresh cookie is refused from Node with another key's proof too", async () => {
    const { context } = await newContext();
    const page = await openDemo(context);
    await logIn(page, "alice");
    const cookie = (await context.cookies(server.url)).find((candidate) => candidate.name === REFRESH_COOKIE);
    const stolen = await new ForeignKeyHolder().send("POST", `${server.url}/auth/refresh`, {
      cookie: `${REFRESH_COOKIE}=${cookie?.value}`,
    });
    expect(stolen.status).toBe(401);
    expect(await stolen.json()).toMatchObject({ error: "invalid_grant" });
  });
});

describe("DPoP tokens the gateway refreshes", () => {
  it("adopts the DPoP token of a transparent refresh and goes on proving the same key", async () => {
    const { context, requests } = await newContext();
    const page = await openDemo(context, "?refresh=gateway");
    const thumbprint = await shownThumbprint(page);
    await logIn(page, "admin");
    const sinceLogin = requests.length;
    const issued = (await (await lastCall(requests, "/auth/login").request.response())?.json()) as {
      access_token: string;
    };
    await page.waitForSelector("#countdown[data-remaining='0']", { timeout: (TOKEN_TTL_SECONDS + 5) * 1000 });
    await page.waitForTimeout(1_100); // `exp` has whole seconds: be past it at the gateway too

    expect(await callApi(page)).toMatch(/^200/);
    const expired = lastCall(requests, "/api/me");
    expect(expired.authorization).toBe(`DPoP ${issued.access_token}`);
    const refreshed = (await expired.request.response())?.headers().authorization;
    expect(refreshed).toMatch(/^DPoP /);
    expect(refreshed).not.toBe(expired.authorization);
    expect(claimsOf(tokenOf(refreshed)).cnf?.jkt).toBe(thumbprint);

    await page.locator("#gateway-refresh-count", { hasText: "1" }).waitFor();
    expect(await callApi(page)).toMatch(/^200/);
    expect(lastCall(requests, "/api/me").authorization).toBe(refreshed);
    expect(requests.slice(sinceLogin).filter((seen) => seen.path === "/auth/refresh")).toHaveLength(0);
  });
});
