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

/** Headers only the gateway may set; any client copy is removed. */
export const IDENTITY_HEADER_PREFIX = "x-auth-";
/** The gateway's own headers towards the upstream (e.g. the credential-check secret). */
const GATEWAY_HEADER_PREFIX = "x-portcullis-";

/**
 * Dropped from every forwarded request: hop-by-hop headers (RFC 9110 §7.6.1), forwarding
 * headers (set below from what the gateway saw), Cloudflare's connection headers, and
 * the cookie header (rebuilt without the gateway's cookies).
 */
const DROPPED = new Set([
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

export interface Identity {
  readonly claims: AccessTokenClaims;
  /** The access token the request is authorized by (the new one after a refresh). */
  readonly token: string;
}

export interface UpstreamRequestOptions {
  /** The upstream URL for this request (origin + base path + path + query). */
  readonly url: string;
  /** The incoming request's URL, already parsed. */
  readonly incomingUrl: URL;
  /** Who the client is (connecting IP), from the platform, never from a header it sent. */
  readonly clientIp: string | undefined;
  readonly identity: Identity | undefined;
  /** Extra headers for this call (e.g. the credential-check secret). */
  readonly extraHeaders?: Record<string, string>;
}

export function isWebSocketUpgrade(headers: Headers): boolean {
  return headers.get("upgrade")?.toLowerCase() === "websocket";
}

/** Request headers as the upstream must see them, built in one pass over the incoming ones. */
export function upstreamHeaders(incoming: Request, options: UpstreamRequestOptions): Headers {
  const source = incoming.headers;
  const webSocket = isWebSocketUpgrade(source);
  const connection = source.get("connection");
  const namedInConnection = connection ? new Set(connection.toLowerCase().split(/\s*,\s*/)) : undefined;

  const pairs: [string, string][] = [];
  for (const [name, value] of source) {
    if (DROPPED.has(name) || name.startsWith(IDENTITY_HEADER_PREFIX) || name.startsWith(GATEWAY_HEADER_PREFIX))
      continue;
    if (namedInConnection?.has(name)) continue;
    pairs.push([name, value]);
  }
  if (webSocket) pairs.push(["connection", "Upgrade"], ["upgrade", "websocket"]);

  const cookie = withoutGatewayCookies(source.get("cookie"));
  if (cookie !== undefined) pairs.push(["cookie", cookie]);

  const url = options.incomingUrl;
  if (options.clientIp) pairs.push(["x-forwarded-for", options.clientIp]);
  pairs.push(["x-forwarded-proto", url.protocol.slice(0, -1)], ["x-forwarded-host", url.host]);

  const headers = new Headers(pairs);
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
