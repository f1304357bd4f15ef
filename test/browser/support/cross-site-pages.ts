/**
 * The pages a browser test serves from the test upstream (through the gateway's public
 * route) to act as the gateway's own app, a sibling subdomain or another site: the app's
 * page (from which the test logs in as the app's script would), one that opens a WebSocket
 * and reports what happened, the same inside a sandboxed frame (`Origin: null`), and one
 * that frames a URL. Any host name that reaches the gateway serves them, so the host in
 * the page's address decides its origin.
 */
import type { ServerResponse } from "node:http";
import type { Page } from "playwright-core";
import type { TestUpstream } from "../../support/upstream";

/** What a page saw of its WebSocket: opened (and the echo) or not, and how it closed. */
export interface SocketOutcome {
  readonly opened: boolean;
  /** The first message the socket received, if any. */
  readonly message: string | null;
  /** Whether the `error` event fired. */
  readonly error: boolean;
  /** The close event's code, or null if it had not closed when the page gave up. */
  readonly closeCode: number | null;
}

/** How long a page waits for its socket or frame before reporting what it has (bounded wait). */
export const PAGE_WAIT_MS = 5_000;

/** The message a page sends once its socket is open; the test upstream echoes "echo: " + it. */
export const PROBE_MESSAGE = "hello from the page";

/**
 * A script expression: a promise of the {@link SocketOutcome} of opening `url`, sending
 * {@link PROBE_MESSAGE} once open and waiting for an answer, at most {@link PAGE_WAIT_MS}.
 */
function probeExpression(url: string): string {
  return `new Promise((resolve) => {
  const outcome = { opened: false, message: null, error: false, closeCode: null };
  const done = () => { clearTimeout(timer); resolve(outcome); };
  const timer = setTimeout(done, ${PAGE_WAIT_MS});
  const socket = new WebSocket(${JSON.stringify(url)});
  socket.onopen = () => { outcome.opened = true; socket.send(${JSON.stringify(PROBE_MESSAGE)}); };
  socket.onmessage = (event) => { outcome.message = String(event.data); socket.close(1000); };
  socket.onerror = () => { outcome.error = true; };
  socket.onclose = (event) => { outcome.closeCode = event.code; done(); };
})`;
}

function escapeAttribute(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll('"', "&quot;").replaceAll("<", "&lt;");
}

function html(title: string, body: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body>${body}</body></html>`;
}

/** The app's own page: nothing on it but a place from which to log in ({@link logInFrom}). */
export function appPage(): string {
  return html("app", "<p>The app.</p>");
}

/**
 * Logs in from `page` as its script would (`POST /auth/login` on the page's origin), so
 * that the browser stores the gateway's cookies itself. Throws unless the answer is 200.
 */
export async function logInFrom(page: Page, username: string, password: string): Promise<void> {
  const status = await page.evaluate(
    async (credentials) => {
      const response = await fetch("/auth/login", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(credentials),
      });
      return response.status;
    },
    { username, password },
  );
  if (status !== 200) throw new Error(`login as ${username} answered ${status}`);
}

/** Opens a WebSocket to `url` on load; `window.socketOutcome` is the promise of its {@link SocketOutcome}. */
export function socketPage(url: string): string {
  return html("socket", `<script>window.socketOutcome = ${probeExpression(url)};</script>`);
}

/**
 * A frame sandboxed with `allow-scripts` only (an opaque origin: its socket says
 * `Origin: null`) opens a WebSocket to `url` and posts its {@link SocketOutcome} up;
 * `window.socketOutcome` is the promise of it.
 */
export function sandboxedSocketPage(url: string): string {
  const inner = html("sandboxed", `<script>${probeExpression(url)}.then((o) => parent.postMessage(o, "*"));</script>`);
  return html(
    "sandboxed socket",
    `<script>window.socketOutcome = new Promise((resolve) => addEventListener("message", (event) => resolve(event.data)));</script>` +
      `<iframe sandbox="allow-scripts" srcdoc="${escapeAttribute(inner)}"></iframe>`,
  );
}

/**
 * Frames `url`; `window.frameLoaded` resolves to true once the frame's load event fired (a
 * blocked frame's error page fires it too), or to false after {@link PAGE_WAIT_MS}.
 */
export function framingPage(url: string): string {
  return html(
    "framing",
    `<script>window.frameLoaded = new Promise((resolve) => {
  window.onFrameLoad = () => resolve(true);
  setTimeout(() => resolve(false), ${PAGE_WAIT_MS});
});</script>` + `<iframe id="framed" src="${escapeAttribute(url)}" onload="onFrameLoad()"></iframe>`,
  );
}

/** Serve `body` as HTML at `path` on the test upstream. */
export function serveHtml(upstream: TestUpstream, path: string, body: string): void {
  upstream.route(path, (_request, response: ServerResponse) => {
    response.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" }).end(body);
  });
}

/** The {@link SocketOutcome} of a {@link socketPage} or {@link sandboxedSocketPage} open in `page`. */
export function socketOutcomeOf(page: Page): Promise<SocketOutcome> {
  return page.evaluate(() => (window as unknown as { socketOutcome: Promise<SocketOutcome> }).socketOutcome);
}

/** Whether the frame of a {@link framingPage} open in `page` fired its load event in time. */
export function frameLoadedOf(page: Page): Promise<boolean> {
  return page.evaluate(() => (window as unknown as { frameLoaded: Promise<boolean> }).frameLoaded);
}
