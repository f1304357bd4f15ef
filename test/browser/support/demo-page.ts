/**
 * Driving the demo page (examples/demo-upstream/page) in Chromium, for the browser tests:
 * the dev server and the browser started together, browser profiles that record every
 * request their pages send to the gateway, and the page's own steps (open, log in).
 */
import type { Browser, BrowserContext, Page, Request } from "playwright-core";
import { launchChromium } from "./browser";
import { buildDemo, type DevServer, startDevServer } from "./dev-server";

/** The demo users; a test file takes turns, as LOGIN_ACCOUNT_LIMIT allows 5 logins a minute per account. */
export const DEMO_USERS = { alice: "wonderland", admin: "portcullis" } as const;

export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  readonly authorization: string | undefined;
  /** The request's DPoP proof header, if any. */
  readonly proof: string | undefined;
  readonly request: Request;
}

export interface DemoBrowser {
  readonly server: DevServer;
  readonly browser: Browser;
  /** A fresh browser profile, recording every request its pages send to the gateway. */
  newContext(
    options?: Parameters<Browser["newContext"]>[0],
  ): Promise<{ context: BrowserContext; requests: SeenRequest[] }>;
  /** The demo page, loaded and ready. */
  openDemo(context: BrowserContext, query?: string): Promise<Page>;
  close(): Promise<void>;
}

/** The dev gateway (`npm run dev`'s, with the demo) with an access token of `tokenTtlSeconds`, and Chromium. */
export async function startDemoBrowser(tokenTtlSeconds: number): Promise<DemoBrowser> {
  buildDemo();
  const [server, browser] = await Promise.all([
    startDevServer({
      vars: {
        ACCESS_TOKEN_TTL: String(tokenTtlSeconds),
        CLOCK_TOLERANCE_SECONDS: "0",
        REVOCATION_CACHE_SECONDS: "0",
      },
    }),
    launchChromium(),
  ]);
  const contexts: BrowserContext[] = [];
  return {
    server,
    browser,
    async newContext(options) {
      const context = await browser.newContext(options);
      contexts.push(context);
      const requests: SeenRequest[] = [];
      context.on("request", (request) => {
        const url = new URL(request.url());
        if (url.origin !== server.url) return;
        const headers = request.headers();
        requests.push({
          method: request.method(),
          path: url.pathname,
          authorization: headers.authorization,
          proof: headers.dpop,
          request,
        });
      });
      return { context, requests };
    },
    async openDemo(context, query = "") {
      const page = await context.newPage();
      await page.goto(`${server.url}/demo/${query}`);
      await page.waitForSelector("body[data-ready=true]");
      return page;
    },
    async close() {
      await Promise.all(contexts.map((context) => context.close().catch(() => undefined)));
      await browser.close();
      await server.stop();
    },
  };
}

export async function logIn(page: Page, username: keyof typeof DEMO_USERS): Promise<void> {
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(DEMO_USERS[username]);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForSelector("body[data-session=active]");
}
