/**
 * Cross-site WebSocket hijacking and framing, in a real headless Chromium against the
 * bundled gateway in miniflare over HTTPS (test/integration/websocket-origin.test.ts has
 * the same rules with hand-made headers; SECURITY.md, "Cookies and other sites").
 *
 * Alice logs in through the gateway's own page, so Chromium holds the `__Host-` cookies
 * and decides by itself, per COOKIE_SAMESITE, which handshake carries them. Pages on the
 * gateway's origin, a sibling subdomain (same site), another site, a sandboxed frame and
 * the site named in ALLOWED_ORIGINS each open `wss://portcullis.test:<port>/ws`. Where
 * Chromium sends the cookie the gateway's log shows its refusal (`cross_site_refused`
 * for that origin); where Chromium keeps it the handshake arrives unauthenticated. Either
 * way the upstream hears no upgrade but the trusted ones.
 */
import type { IncomingHttpHeaders } from "node:http";
import type { Browser, BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startUpstream, TEST_USERS, type TestUpstream } from "../support/upstream";
import { acceptWebSockets } from "../support/websocket";
import { launchChromium } from "./support/browser";
import {
  appPage,
  frameLoadedOf,
  framingPage,
  logInFrom,
  PROBE_MESSAGE,
  type SocketOutcome,
  sandboxedSocketPage,
  serveHtml,
  socketOutcomeOf,
  socketPage,
} from "./support/cross-site-pages";
import { buildBrowserBundle, HOST_MAPPING_FLAGS, type HttpsGateway, startHttpsGateway } from "./support/https-gateway";

/** The gateway and its app. */
const GATEWAY_HOST = "portcullis.test";
/** Same site as the gateway (`.test` is no public suffix, so the site is portcullis.test), another origin. */
const SIBLING_HOST = "sub.portcullis.test";
/** Another site. */
const EVIL_HOST = "evil.test";
/** Another site, named in ALLOWED_ORIGINS. */
const ALLOWED_HOST = "app.test";

const APP_PAGE = "/public/app.html";
const SOCKET_PAGE = "/public/ws.html";
const SANDBOXED_PAGE = "/public/sandboxed.html";
const FRAMING_PAGE = "/public/frame.html";
/** A navigation to the OIDC callback with no login in progress: the gateway's HTML error page (400). */
const CALLBACK_PATH = "/auth/oidc/callback?state=x&code=y";
const CALLBACK_TITLE = "Login through the identity provider failed";
const ACCESS_COOKIE = "__Host-portcullis-access";

const OPENED: SocketOutcome = { opened: true, message: `echo: ${PROBE_MESSAGE}`, error: false, closeCode: 1000 };
const FAILED: SocketOutcome = { opened: false, message: null, error: true, closeCode: 1006 };

type SameSite = "None" | "Strict";
/**
 * What becomes of a handshake: Chromium sends the cookie and the gateway lets it through
 * or refuses it, or Chromium keeps the cookie.
 */
type Fate = "opens" | "refused" | "withheld";

interface Attempt {
  readonly from: string;
  readonly host: string;
  readonly page: string;
  readonly fate: Readonly<Record<SameSite, Fate>>;
}

const ATTEMPTS: readonly Attempt[] = [
  {
    from: "a page on a sibling subdomain (same site, another origin)",
    host: SIBLING_HOST,
    page: SOCKET_PAGE,
    fate: { None: "refused", Strict: "refused" },
  },
  {
    from: "a page on another site",
    host: EVIL_HOST,
    page: SOCKET_PAGE,
    fate: { None: "refused", Strict: "withheld" },
  },
  {
    from: "a sandboxed frame on another site (Origin: null)",
    host: EVIL_HOST,
    page: SANDBOXED_PAGE,
    fate: { None: "refused", Strict: "withheld" },
  },
  {
    from: "a page on the site ALLOWED_ORIGINS names",
    host: ALLOWED_HOST,
    page: SOCKET_PAGE,
    fate: { None: "opens", Strict: "withheld" },
  },
];

const FATE_SAYS: Readonly<Record<Fate, string>> = {
  opens: "Chromium sends the cookie, the socket opens and echoes",
  refused: "Chromium sends the cookie, the gateway refuses the handshake and the upstream hears nothing",
  withheld: "Chromium keeps the cookie, the handshake fails unauthenticated and the upstream hears nothing",
};

let bundle: string;
let browser: Browser;

beforeAll(async () => {
  bundle = buildBrowserBundle();
  browser = await launchChromium({ extraFlags: HOST_MAPPING_FLAGS });
});

afterAll(async () => {
  await browser?.close();
});

/** A test for the gateway's JSON log lines: those whose entry satisfies `predicate`. */
function logged(predicate: (entry: Record<string, unknown>) => boolean): (line: string) => boolean {
  return (line) => {
    try {
      return predicate(JSON.parse(line) as Record<string, unknown>);
    } catch {
      return false;
    }
  };
}

describe.each(["None", "Strict"] as const)("COOKIE_SAMESITE = %s, in Chromium", (sameSite) => {
  let upstream: TestUpstream;
  let server: HttpsGateway;
  let context: BrowserContext;
  const upgrades: IncomingHttpHeaders[] = [];
  const own = () => server.origin(GATEWAY_HOST);

  beforeAll(async () => {
    upstream = await startUpstream();
    acceptWebSockets(upstream.server, upgrades);
    server = await startHttpsGateway({
      bundle,
      upstream,
      vars: (origin) => ({
        ACCESS_COOKIE: "true",
        COOKIE_SAMESITE: sameSite,
        ALLOWED_ORIGINS: JSON.stringify([origin(ALLOWED_HOST)]),
        ROUTES: JSON.stringify([
          { path: "/public/*", public: true },
          { path: "/ws", scopes: ["read"] },
        ]),
        // OIDC on, so that its callback's HTML error page exists; nothing asks the provider.
        OIDC_ISSUER: "https://idp.invalid",
        OIDC_CLIENT_ID: "x",
        OIDC_CLIENT_SECRET: "cross-site-test-client-secret-0123456789",
        OIDC_SEALING_SECRET: "cross-site-test-sealing-secret-0123456789",
      }),
    });
    const socketUrl = `wss://${GATEWAY_HOST}:${server.port}/ws`;
    serveHtml(upstream, APP_PAGE, appPage());
    serveHtml(upstream, SOCKET_PAGE, socketPage(socketUrl));
    serveHtml(upstream, SANDBOXED_PAGE, sandboxedSocketPage(socketUrl));
    serveHtml(upstream, FRAMING_PAGE, framingPage(`${own()}${CALLBACK_PATH}`));

    // Alice logs in from the app's page, so Chromium stores the gateway's cookies itself.
    context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${own()}${APP_PAGE}`);
    await logInFrom(page, "alice", TEST_USERS.alice?.password ?? "");
    await page.close();
  });

  afterAll(async () => {
    await context?.close();
    await server?.close();
    await upstream?.close();
  });

  /** Opens `pagePath` under `host` in the logged-in context and returns what its socket did. */
  async function socketFrom(host: string, pagePath: string): Promise<SocketOutcome> {
    const page = await context.newPage();
    try {
      await page.goto(`${server.origin(host)}${pagePath}`);
      return await socketOutcomeOf(page);
    } finally {
      await page.close();
    }
  }

  it(`keeps alice's access cookie as the gateway set it: Secure, HttpOnly, SameSite=${sameSite}, host-only`, async () => {
    const cookies = await context.cookies(own());
    expect(cookies.find((cookie) => cookie.name === ACCESS_COOKIE)).toMatchObject({
      domain: GATEWAY_HOST,
      path: "/",
      secure: true,
      httpOnly: true,
      sameSite,
    });
  });

  it("lets a page on the gateway's own origin open the socket: it echoes, and the upstream hears alice", async () => {
    const before = upgrades.length;
    expect(await socketFrom(GATEWAY_HOST, SOCKET_PAGE)).toEqual(OPENED);
    expect(upgrades.slice(before)).toEqual([
      expect.objectContaining({ origin: own(), "x-auth-subject": TEST_USERS.alice?.sub }),
    ]);
  });

  for (const attempt of ATTEMPTS) {
    const fate = attempt.fate[sameSite];
    it(`${attempt.from}: ${FATE_SAYS[fate]}`, async () => {
      // The handshake's Origin: the page's own, or `null` from a sandboxed frame (an opaque origin).
      const origin = attempt.page === SANDBOXED_PAGE ? "null" : server.origin(attempt.host);
      const before = upgrades.length;
      if (fate === "opens") {
        expect(await socketFrom(attempt.host, attempt.page)).toEqual(OPENED);
        expect(upgrades.slice(before)).toEqual([
          expect.objectContaining({ origin, "x-auth-subject": TEST_USERS.alice?.sub }),
        ]);
        return;
      }
      // The gateway writes one line per refused handshake: the refusal of a cookie from
      // the wrong origin (the proof that Chromium sent it), or a handshake without a token.
      const line =
        fate === "refused"
          ? logged(
              (entry) => entry.event === "cross_site_refused" && entry.detail === `websocket from origin ${origin}`,
            )
          : logged((entry) => entry.event === "request_refused" && entry.code === "token_missing");
      const linesBefore = server.gateway.logs.filter(line).length;
      expect(await socketFrom(attempt.host, attempt.page)).toEqual(FAILED);
      expect(upgrades.length).toBe(before);
      await server.gateway.waitForLog(line, linesBefore + 1);
    });
  }

  it("keeps its HTML page out of a frame on another site (frame-ancestors 'none'), though the gateway answered", async () => {
    const page = await context.newPage();
    const consoleLines: string[] = [];
    page.on("console", (message) => consoleLines.push(message.text()));
    const answered = logged((entry) => entry.code === "login_failed");
    const answersBefore = server.gateway.logs.filter(answered).length;
    await page.goto(`${server.origin(EVIL_HOST)}${FRAMING_PAGE}`);
    expect(await frameLoadedOf(page)).toBe(true);
    const framed = page.frames().filter((frame) => frame !== page.mainFrame());
    expect(framed.map((frame) => frame.url())).toEqual(["chrome-error://chromewebdata/"]);
    await expect
      .poll(() => consoleLines.join("\n"), { timeout: 5_000 })
      .toMatch(/violates the following Content Security Policy directive: "frame-ancestors 'none'"/);
    // The frame's request reached the gateway, which answered with its page: Chromium blocked the answer.
    await server.gateway.waitForLog(answered, answersBefore + 1);
    await page.close();
  });

  it("shows that HTML page when it is opened top-level", async () => {
    const page = await context.newPage();
    const response = await page.goto(`${own()}${CALLBACK_PATH}`);
    expect(response?.status()).toBe(400);
    expect(await response?.headerValue("content-security-policy")).toBe("default-src 'none'; frame-ancestors 'none'");
    expect(await response?.headerValue("x-frame-options")).toBe("DENY");
    expect(await page.title()).toBe(CALLBACK_TITLE);
    expect(await page.locator("h1").textContent()).toBe(CALLBACK_TITLE);
    await page.close();
  });
});
