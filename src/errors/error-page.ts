/**
 * The HTML the gateway makes itself: the answer to a refusal during a browser navigation
 * (the OIDC login and callback; same status and generic title as the problem+json answer,
 * nothing more), and the short pages of the OIDC login's way back. Every HTML page the
 * gateway makes is built here, so every one carries the same headers.
 */
import type { GatewayError } from "./gateway-error";
import { problemResponse } from "./problem";

/** Text for HTML, escaped: `&`, `<`, `>`, `"` and `'`. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

export interface HtmlPageOptions {
  readonly status: number;
  /** Plain text. */
  readonly title: string;
  /** Plain text paragraphs. */
  readonly paragraphs: readonly string[];
  /** A same-origin path the browser goes on to at once (meta refresh), with a link to it. */
  readonly continueTo?: string;
  readonly headers?: Headers;
}

/**
 * The headers of every HTML page the gateway makes. No script, no framing (frame-ancestors;
 * X-Frame-Options for browsers before CSP 2), no sniffing it into something else, no
 * referrer to leak the URL it was asked for; a page with a style of its own allows exactly
 * that style (its hash), and a form only to this origin.
 */
export function htmlHeaders(base: HeadersInit | undefined, styleHash?: string): Headers {
  const headers = new Headers(base);
  headers.set("content-type", "text/html; charset=utf-8");
  headers.set("cache-control", "no-store");
  const style = styleHash === undefined ? "" : `; style-src '${styleHash}'; form-action 'self'`;
  headers.set("content-security-policy", `default-src 'none'; frame-ancestors 'none'${style}`);
  headers.set("x-frame-options", "DENY");
  headers.set("x-content-type-options", "nosniff");
  headers.set("referrer-policy", "no-referrer");
  return headers;
}

export function htmlPage(options: HtmlPageOptions): Response {
  const headers = htmlHeaders(options.headers);
  const title = escapeHtml(options.title);
  const target = options.continueTo === undefined ? undefined : escapeHtml(options.continueTo);
  const refresh = target === undefined ? "" : `<meta http-equiv="refresh" content="0;url=${target}">`;
  const paragraphs = options.paragraphs.map((text) => `<p>${escapeHtml(text)}</p>`).join("");
  const link = target === undefined ? `<p><a href="/">Back</a></p>` : `<p><a href="${target}">Continue</a></p>`;
  const body = `<!doctype html><meta charset="utf-8">${refresh}<title>${title}</title><h1>${title}</h1>${paragraphs}${link}`;
  return new Response(body, { status: options.status, headers });
}

export async function errorPage(
  error: GatewayError,
  context: { realm: string; requestId: string },
  extraHeaders?: Headers,
): Promise<Response> {
  const problem = problemResponse(error, context, extraHeaders);
  const { title, status } = (await problem.json()) as { title: string; status: number };
  // The title comes from our own fixed table; the request id is our own or a cf-ray.
  return htmlPage({
    status,
    title,
    paragraphs: [`Status ${status}. Request id ${context.requestId}.`],
    headers: problem.headers,
  });
}
