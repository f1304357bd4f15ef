/**
 * The plain HTML answer to a refusal during a browser navigation (the OIDC login and
 * callback): same status and generic title as the problem+json answer, nothing more. Every
 * HTML page the gateway makes is built here, so every one carries the same headers.
 */
import type { GatewayError } from "./gateway-error";
import { problemResponse } from "./problem";

export async function errorPage(
  error: GatewayError,
  context: { realm: string; requestId: string },
  extraHeaders?: Headers,
): Promise<Response> {
  const problem = problemResponse(error, context, extraHeaders);
  const { title, status } = (await problem.json()) as { title: string; status: number };
  const headers = new Headers(problem.headers);
  headers.set("content-type", "text/html; charset=utf-8");
  // No script, no framing (frame-ancestors; X-Frame-Options for browsers before CSP 2), no
  // sniffing it into something else, no referrer to leak the URL it was asked for.
  headers.set("content-security-policy", "default-src 'none'; frame-ancestors 'none'");
  headers.set("x-frame-options", "DENY");
  headers.set("x-content-type-options", "nosniff");
  headers.set("referrer-policy", "no-referrer");
  // The title comes from our own fixed table; the request id is our own or a cf-ray of the
  // form [0-9a-f]{16}-[A-Z]{3} (checked in request-context.ts). Nothing is echoed.
  const body = `<!doctype html><meta charset="utf-8"><title>${title}</title><h1>${title}</h1><p>Status ${status}. Request id ${context.requestId}.</p><p><a href="/">Back</a></p>`;
  return new Response(body, { status, headers });
}
