/**
 * A pass-through HTTP proxy in front of the gateway, on its own loopback port, that can rewrite
 * the gateway's answer to the OIDC callback on the wire. The browser reaches it as
 * `http://localhost:<port>` (the Host header goes through unchanged, so the gateway derives
 * this origin's redirect URI); Chromium sees nothing but an ordinary server's answers, so
 * which cookies it keeps and sends afterwards is entirely its own decision.
 *
 * - "drop-session-cookie": the answer without the session's refresh cookie (as in a browser
 *   that does not keep it), `__Host-portcullis-landed` kept: the loop guard's case.
 * - "as-before": the callback as it answered before the landing page existed, a 303 straight
 *   to `return_to` with the session cookies and no landed marker: the loop's cause.
 *
 * Rewriting inside Chromium is no substitute: playwright's `page.route` sees only the first
 * URL of a redirect chain (the provider reaches the callback by a redirect); the DevTools
 * protocol's Fetch domain, paused at the response stage, comes after Chromium has stored the
 * answer's cookies, and a 303 handed in there committed the callback's URL and was followed
 * with the Strict cookie, unlike a server's 303.
 */
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { continuesTo } from "../../support/oidc-login";

export const REFRESH_COOKIE = "__Host-portcullis-refresh";
export const LANDED_COOKIE = "__Host-portcullis-landed";
const CALLBACK_PATH = "/auth/oidc/callback";

export type CallbackRewrite = "none" | "drop-session-cookie" | "as-before";

/** What the gateway itself answered to one callback, before any rewrite. */
export interface CallbackAnswer {
  readonly status: number;
  /** Names of the cookies the answer set (or cleared). */
  readonly setCookies: readonly string[];
}

export interface CallbackProxy {
  /** `http://localhost:<port>`. */
  readonly url: string;
  /** How the next callbacks are answered (default "none": unchanged). */
  rewrite: CallbackRewrite;
  readonly callbacks: CallbackAnswer[];
  close(): Promise<void>;
}

function cookieName(setCookie: string): string {
  return setCookie.slice(0, setCookie.indexOf("=")).trim();
}

/** The answer's headers as raw name/value pairs, without the Set-Cookie lines of the `stripped` cookies. */
function headersWithout(answer: IncomingMessage, stripped: ReadonlySet<string>): string[] {
  const kept: string[] = [];
  for (let index = 0; index < answer.rawHeaders.length; index += 2) {
    const [name = "", value = ""] = answer.rawHeaders.slice(index, index + 2);
    const lower = name.toLowerCase();
    if (lower === "content-length" || lower === "transfer-encoding" || lower === "connection") continue;
    if (lower === "set-cookie" && stripped.has(cookieName(value))) continue;
    kept.push(name, value);
  }
  return kept;
}

async function rewriteCallback(rewrite: CallbackRewrite, answer: IncomingMessage, out: ServerResponse) {
  const body = Buffer.concat(await answer.toArray());
  const status = answer.statusCode ?? 502;
  if (rewrite === "drop-session-cookie") {
    out.writeHead(status, headersWithout(answer, new Set([REFRESH_COOKIE]))).end(body);
    return;
  }
  const landingPage = new Response(body, { status, headers: { "content-type": answer.headers["content-type"] ?? "" } });
  const returnTo = await continuesTo(landingPage);
  if (returnTo === undefined) throw new Error(`the callback answered ${status}, not the landing page`);
  const cookies = (answer.headers["set-cookie"] ?? []).filter((line) => cookieName(line) !== LANDED_COOKIE);
  out.writeHead(303, { location: returnTo, "cache-control": "no-store", "set-cookie": cookies }).end();
}

/** Starts the proxy for the gateway at `target` (e.g. miniflare's `http://127.0.0.1:<port>`). */
export async function startCallbackProxy(target: string): Promise<CallbackProxy> {
  const upstream = new URL(target);
  const callbacks: CallbackAnswer[] = [];
  const state = { rewrite: "none" as CallbackRewrite };
  const server = http.createServer((incoming, out) => {
    const isCallback = (incoming.url ?? "").split("?")[0] === CALLBACK_PATH;
    // The callback's page uncompressed, so that a rewrite can read it.
    const { "accept-encoding": _encodings, ...callbackHeaders } = incoming.headers;
    const outgoing = http.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: incoming.method,
        path: incoming.url,
        headers: isCallback ? callbackHeaders : incoming.headers,
      },
      (answer) => {
        if (isCallback) {
          callbacks.push({
            status: answer.statusCode ?? 0,
            setCookies: (answer.headers["set-cookie"] ?? []).map(cookieName),
          });
        }
        if (!isCallback || state.rewrite === "none") {
          out.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
          answer.pipe(out);
          return;
        }
        rewriteCallback(state.rewrite, answer, out).catch((error: Error) => {
          out.writeHead(502, { "content-type": "text/plain" }).end(`callback rewrite failed: ${error.message}`);
        });
      },
    );
    outgoing.on("error", (error) => out.writeHead(502, { "content-type": "text/plain" }).end(error.message));
    incoming.pipe(outgoing);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    url: `http://localhost:${port}`,
    callbacks,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
