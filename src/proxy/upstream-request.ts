/**
 * The one place that builds what the upstream receives.
 *
 * - Hop-by-hop headers (RFC 9110 §7.6.1) and those named in `Connection` are dropped;
 *   a WebSocket upgrade keeps `Upgrade`/`Connection` so it can pass through.
 * - The gateway's own cookies never leave; other cookies pass untouched.
 * - Client-supplied identity headers (`X-Auth-*`) and forwarding headers are dropped and
 *   set from what the gateway itself verified and saw.
 * - The body is passed as a stream, never read.
 *
 * What it builds is a `RequestInit` with the headers as plain pairs: the runtime turns
 * them into its own headers once, inside `fetch`, without a `Headers` or `Request` object
 * made in between (each call into the runtime's objects costs, see docs/benchmarks.md).
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
  /** The incoming request's URL, already parsed. */
  readonly incomingUrl: URL;
  /** Who the client is (connecting IP), from the platform, never from a header it sent. */
  readonly clientIp: string | undefined;
  readonly identity: Identity | undefined;
}

/** The identity headers of a verified token, built once per claims object (claims are cached per token). */
const identityHeaderCache = new WeakMap<AccessTokenClaims, readonly [string, string][]>();

function identityHeaders(claims: AccessTokenClaims): readonly [string, string][] {
  let pairs = identityHeaderCache.get(claims);
  if (pairs === undefined) {
    const built: [string, string][] = [["x-auth-subject", claims.sub]];
    if (claims.sid) built.push(["x-auth-session", claims.sid]);
    if (claims.scopes.size > 0) built.push(["x-auth-scopes", [...claims.scopes].join(" ")]);
    if (claims.roles.size > 0) built.push(["x-auth-roles", [...claims.roles].join(" ")]);
    pairs = built;
    identityHeaderCache.set(claims, pairs);
  }
  return pairs;
}

/**
 * Request headers as the upstream must see them, built in one pass over the incoming ones
 * and handed to the runtime in one call (each `Headers` call crosses into native code).
 */
export function upstreamHeaders(incoming: Request, options: UpstreamRequestOptions): [string, string][] {
  const identity = options.identity;
  let connection: string | undefined;
  let upgrade: string | undefined;
  let cookie: string | undefined;
  let pairs: [string, string][] = [];
  for (const [name, value] of incoming.headers) {
    if (DROPPED.has(name)) {
      if (name === "cookie") cookie = value;
      else if (name === "connection") connection = value;
      else if (name === "upgrade") upgrade = value;
      continue;
    }
    if (name.startsWith(IDENTITY_HEADER_PREFIX) || name.startsWith(GATEWAY_HEADER_PREFIX)) continue;
    // An authorized request carries the token it was authorized by (the new one after a refresh).
    if (identity !== undefined && name === "authorization") continue;
    pairs.push([name, value]);
  }
  if (connection !== undefined) {
    const named = new Set(connection.toLowerCase().split(/\s*,\s*/));
    pairs = pairs.filter(([name]) => !named.has(name));
  }
  if (upgrade?.toLowerCase() === "websocket") pairs.push(["connection", "Upgrade"], ["upgrade", "websocket"]);

  const kept = withoutGatewayCookies(cookie ?? null);
  if (kept !== undefined) pairs.push(["cookie", kept]);

  const url = options.incomingUrl;
  if (options.clientIp) pairs.push(["x-forwarded-for", options.clientIp]);
  pairs.push(["x-forwarded-proto", url.protocol.slice(0, -1)], ["x-forwarded-host", url.host]);

  if (identity !== undefined) {
    pairs.push(["authorization", `Bearer ${identity.token}`]);
    for (const pair of identityHeaders(identity.claims)) pairs.push([pair[0], pair[1]]);
  }
  return pairs;
}

/** What `fetch` needs to send the upstream request: the body, when there is one, as a stream. */
export function upstreamRequestInit(incoming: Request, options: UpstreamRequestOptions): RequestInit {
  const hasBody = incoming.method !== "GET" && incoming.method !== "HEAD" && incoming.body !== null;
  return {
    method: incoming.method,
    headers: upstreamHeaders(incoming, options),
    body: hasBody ? incoming.body : null,
    redirect: "manual",
  };
}
