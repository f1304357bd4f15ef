/**
 * The one place that builds what the upstream receives.
 *
 * - Hop-by-hop headers (RFC 9110 §7.6.1) and those named in `Connection` are dropped;
 *   a WebSocket upgrade keeps `Upgrade`/`Connection` so it can pass through.
 * - The gateway's own cookies never leave; other cookies pass untouched.
 * - Client-supplied identity headers (`X-Auth-*`) and forwarding headers are dropped and
 *   set from what the gateway itself verified and saw.
 * - The body is passed as a stream, never read.
 */

import { withoutGatewayCookies } from "../http/cookies";
import type { AccessTokenClaims } from "../tokens/access-token-claims";

const HOP_BY_HOP = [
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
];

/** Headers only the gateway may set; any client copy is removed. */
export const IDENTITY_HEADER_PREFIX = "x-auth-";
const FORWARDING_HEADERS = ["forwarded", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-real-ip"];

export interface Identity {
  readonly claims: AccessTokenClaims;
  /** The access token the request is authorized by (the new one after a refresh). */
  readonly token: string;
}

export interface UpstreamRequestOptions {
  /** The upstream URL for this request (origin + base path + path + query). */
  readonly url: string;
  /** Who the client is (connecting IP), from the platform, never from a header it sent. */
  readonly clientIp: string | undefined;
  readonly identity: Identity | undefined;
  /** Extra headers for this call (e.g. the credential-check secret). */
  readonly extraHeaders?: Record<string, string>;
}

export function isWebSocketUpgrade(headers: Headers): boolean {
  return headers.get("upgrade")?.toLowerCase() === "websocket";
}

/** Request headers as the upstream must see them. */
export function upstreamHeaders(incoming: Request, options: UpstreamRequestOptions): Headers {
  const headers = new Headers(incoming.headers);
  const webSocket = isWebSocketUpgrade(incoming.headers);

  for (const name of (incoming.headers.get("connection") ?? "").split(",")) {
    const trimmed = name.trim().toLowerCase();
    if (trimmed && !(webSocket && trimmed === "upgrade")) headers.delete(trimmed);
  }
  for (const name of HOP_BY_HOP) headers.delete(name);
  if (webSocket) {
    headers.set("connection", "Upgrade");
    headers.set("upgrade", "websocket");
  }

  for (const name of [...headers.keys()]) {
    if (name.startsWith(IDENTITY_HEADER_PREFIX)) headers.delete(name);
  }
  for (const name of FORWARDING_HEADERS) headers.delete(name);
  // Platform headers describing the client's connection are Cloudflare's to set upstream.
  headers.delete("cf-connecting-ip");
  headers.delete("cf-worker");

  const cookie = withoutGatewayCookies(incoming.headers.get("cookie"));
  if (cookie === undefined) headers.delete("cookie");
  else headers.set("cookie", cookie);

  const url = new URL(incoming.url);
  if (options.clientIp) headers.set("x-forwarded-for", options.clientIp);
  headers.set("x-forwarded-proto", url.protocol.replace(":", ""));
  headers.set("x-forwarded-host", url.host);

  if (options.identity) {
    const { claims, token } = options.identity;
    headers.set("authorization", `Bearer ${token}`);
    headers.set("x-auth-subject", claims.sub);
    if (claims.sid) headers.set("x-auth-session", claims.sid);
    if (claims.scopes.size > 0) headers.set("x-auth-scopes", [...claims.scopes].join(" "));
    if (claims.roles.size > 0) headers.set("x-auth-roles", [...claims.roles].join(" "));
  }
  for (const [name, value] of Object.entries(options.extraHeaders ?? {})) headers.set(name, value);
  return headers;
}

export function buildUpstreamRequest(incoming: Request, options: UpstreamRequestOptions): Request {
  const hasBody = incoming.method !== "GET" && incoming.method !== "HEAD" && incoming.body !== null;
  return new Request(options.url, {
    method: incoming.method,
    headers: upstreamHeaders(incoming, options),
    body: hasBody ? incoming.body : null,
    redirect: "manual",
  });
}
