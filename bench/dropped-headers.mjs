/**
 * The request headers the gateway never forwards as the client sent them (src/proxy/upstream-request.ts):
 * hop-by-hop headers, forwarding headers (set from what it saw), Cloudflare's connection
 * headers and the cookie header (rebuilt). Shared by the bench's floor and variant Workers;
 * `.mjs`, because miniflare reads a `.js` module that a Worker imports as CommonJS.
 */
export const DROPPED = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "forwarded",
  "x-forwarded-for",
  "x-forwarded-proto",
  "x-forwarded-host",
  "x-real-ip",
  "cf-connecting-ip",
  "cf-worker",
  "cookie",
]);
