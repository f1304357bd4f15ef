/**
 * The one place that builds what the upstream receives.
 *
 * - Hop-by-hop headers (RFC 9110 §7.6.1) and those named in `Connection` are dropped;
 *   a WebSocket upgrade keeps `Upgrade`/`Connection` so it can pass through.
 * - The gateway's own cookies never leave; other cookies pass untouched.
 * - Client-supplied identity headers (`X-Auth-*`), forwarding, client-address, URL-rewrite
 *   and method-override headers are dropped under every spelling (canonical/header-names.ts)
 *   and the identity and forwarding ones set from what the gateway itself verified and saw.
 * - The body is passed as a stream, never read.
 *
 * What it builds is a `RequestInit` whose headers are a plain record: the runtime turns a
 * record into its own headers about three times faster than a list of pairs (measured in
 * workerd: 7 µs against 21 µs for eleven headers), and faster than copying the incoming
 * `Headers` and editing the copy (10 µs); see docs/benchmarks.md.
 */

import { headerKey, isDroppedRequestHeader, METHOD_OVERRIDE_HEADERS } from "../canonical/header-names";
import { withoutGatewayCookies } from "../http/cookies";
import type { AccessTokenClaims } from "../tokens/access-token-claims";
import { ASSERTION_HEADER } from "../tokens/upstream-assertion";

/**
 * Exported for the benchmark's forwarding floor (bench/floor-worker.js), which drops
 * exactly what the gateway drops.
 */
export { headerKey, isDroppedRequestHeader };

export interface Identity {
  readonly claims: AccessTokenClaims;
  /** The access token the request is authorized by (the new one after a refresh). */
  readonly token: string;
  /**
   * The token is bound to a DPoP key (`cnf.jkt`): it goes as `Authorization: DPoP`, with
   * `proof` (the client's, checked against this very token) when there is one.
   */
  readonly bound?: { readonly proof: string | undefined };
  /** The signed upstream assertion for this request (UPSTREAM_ASSERTION), sent as `Portcullis-Assertion`. */
  readonly assertion?: string | undefined;
}

export interface UpstreamRequestOptions {
  readonly method: string;
  /** The incoming request's URL, already parsed, */
  readonly url: URL;
  /** and as the runtime gave it (`request.url`). */
  readonly href: string;
  /** The incoming request's headers, read once (`readIncomingHeaders`). */
  readonly incoming: IncomingHeaders;
  readonly identity: Identity | undefined;
}

/** Header name → value, without a prototype (a header may be called `__proto__`). */
export type HeaderRecord = Record<string, string>;

/**
 * A request's headers, read in one pass when the request arrives: what may go upstream,
 * and the few values the pipeline asks about. Each `Headers` call is a call into the
 * runtime, which costs 2–3 µs under load (docs/benchmarks.md), so the pipeline reads
 * these fields instead of calling `get`.
 */
export interface IncomingHeaders {
  /**
   * Every header except the dropped ones and client copies of the gateway's own; what
   * `upstreamHeaders` finishes into the upstream's headers (so, once per request).
   */
  readonly forwardable: HeaderRecord;
  readonly authorization: string | null;
  readonly cookie: string | null;
  /** The `DPoP` proof header (RFC 9449); two of them arrive joined by ", ". */
  readonly dpop: string | null;
  /** Cloudflare's id of the request, when the platform set one. */
  readonly cfRay: string | null;
  /** The platform's `cf-connecting-ip`: who the client is. */
  readonly clientIp: string | undefined;
  readonly connection: string | undefined;
  /** The request asks to become a WebSocket (`Upgrade: websocket`). */
  readonly webSocket: boolean;
  /**
   * It says it has a body (`Content-Length` or `Transfer-Encoding`). Without either, an
   * HTTP/1.1 request has none (RFC 9112 §6.3), so nobody need ask `request.body`.
   */
  readonly framed: boolean;
  /** Values of method-override headers (`X-HTTP-Method-Override` and kin), under any spelling. */
  readonly methodOverrides: readonly string[] | undefined;
  /** The SERVICE_TOKEN_HEADER's value (a service client's id and secret); null when absent or off. */
  readonly serviceToken: string | null;
}

/**
 * `serviceTokenKey`: SERVICE_TOKEN_HEADER's key, when it is on. That header is never
 * forwarded, under any spelling; its value is read from the exact name only.
 */
export function readIncomingHeaders(headers: Headers, serviceTokenKey?: string): IncomingHeaders {
  const forwardable: HeaderRecord = Object.create(null);
  let authorization: string | null = null;
  let cookie: string | null = null;
  let dpop: string | null = null;
  let cfRay: string | null = null;
  let clientIp: string | undefined;
  let connection: string | undefined;
  let upgrade: string | undefined;
  let framed = false;
  let methodOverrides: string[] | undefined;
  let serviceToken: string | null = null;
  for (const [name, value] of headers) {
    const key = headerKey(name);
    if (key === serviceTokenKey) {
      if (name === serviceTokenKey) serviceToken = value;
      continue;
    }
    if (isDroppedRequestHeader(key)) {
      // What the gateway reads itself comes from the exact name only: the runtime's and the
      // platform's spelling, never an alias a client made up.
      if (name === "cookie") cookie = value;
      else if (name === "cf-connecting-ip") clientIp = value;
      else if (name === "connection") connection = value;
      else if (name === "upgrade") upgrade = value;
      else if (name === "transfer-encoding") framed = true;
      else if (name === "dpop") dpop = value;
      else if (METHOD_OVERRIDE_HEADERS.has(key)) {
        methodOverrides ??= [];
        methodOverrides.push(value);
      }
      continue;
    }
    if (name === "authorization") authorization = value;
    else if (name === "cf-ray") cfRay = value;
    else if (name === "content-length") framed = true;
    forwardable[name] = value;
  }
  const webSocket = upgrade?.toLowerCase() === "websocket";
  return {
    forwardable,
    authorization,
    cookie,
    dpop,
    cfRay,
    clientIp,
    connection,
    webSocket,
    framed,
    methodOverrides,
    serviceToken,
  };
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
    if (claims.jkt !== undefined) built.push(["x-auth-key-thumbprint", claims.jkt]);
    // Another issuer's token (TRUSTED_ISSUERS) names that issuer's id; the gateway's own name none.
    if (claims.trustedIssuer !== undefined) built.push(["x-auth-issuer", claims.trustedIssuer]);
    pairs = built;
    identityHeaderCache.set(claims, pairs);
  }
  return pairs;
}

/**
 * Request headers as the upstream must see them, from the headers read when the request
 * arrived. The client's address is the platform's `cf-connecting-ip`, never a header the
 * client could forge.
 */
export function upstreamHeaders(options: UpstreamRequestOptions): HeaderRecord {
  const { identity, incoming } = options;
  // The record read at arrival is finished in place, not copied: copying a prototype-less
  // record costs more than building it (measured in V8: 0.9 µs against 0.14 µs for five
  // headers). A request is forwarded once, and nothing else reads the record.
  const headers = incoming.forwardable;
  // An authorized request carries the token it was authorized by (the new one after a refresh).
  if (identity !== undefined) delete headers.authorization;
  if (incoming.connection !== undefined) {
    for (const named of incoming.connection.toLowerCase().split(",")) delete headers[named.trim()];
  }
  if (incoming.webSocket) {
    headers.connection = "Upgrade";
    headers.upgrade = "websocket";
  }

  const kept = withoutGatewayCookies(incoming.cookie);
  if (kept !== undefined) headers.cookie = kept;

  if (incoming.clientIp) headers["x-forwarded-for"] = incoming.clientIp;
  const origin = forwardedOrigin(options.href, options.url);
  headers["x-forwarded-proto"] = origin.proto;
  headers["x-forwarded-host"] = origin.host;

  if (identity !== undefined) {
    // Always in the canonical form. The client's own value is not reused even when it has that
    // form: checking that costs more than the concatenation, which V8 makes without a copy.
    headers.authorization = identity.bound === undefined ? `Bearer ${identity.token}` : `DPoP ${identity.token}`;
    if (identity.bound?.proof !== undefined) headers.dpop = identity.bound.proof;
    for (const [name, value] of identityHeaders(identity.claims)) headers[name] = value;
    if (identity.assertion !== undefined) headers[ASSERTION_HEADER] = identity.assertion;
  }
  return headers;
}

interface ForwardedOrigin {
  /** `request.url` up to the first "/" after "//": it contains the whole authority. */
  readonly prefix: string;
  readonly proto: string;
  readonly host: string;
}

let lastOrigin: ForwardedOrigin = { prefix: "", proto: "", host: "" };

/**
 * The scheme and host the client used, for X-Forwarded-Proto and -Host. Each URL getter is
 * a call into the runtime, and a deployment mostly serves one host, so the last answer is
 * kept. It is reused only for a URL whose text up to the first "/" after "//" is the same:
 * the parser reads the scheme and host from that text alone (the authority ends at the
 * first "/", "\", "?" or "#"), so the same text means the same scheme and host.
 */
function forwardedOrigin(href: string, url: URL): ForwardedOrigin {
  const slash = href.indexOf("/", href.indexOf("//") + 2);
  const prefix = slash === -1 ? href : href.slice(0, slash);
  if (prefix !== lastOrigin.prefix) lastOrigin = { prefix, proto: url.protocol.slice(0, -1), host: url.host };
  return lastOrigin;
}

/** What `fetch` needs to send the upstream request: the body, when there is one, as a stream. */
export function upstreamRequestInit(incoming: Request, options: UpstreamRequestOptions): RequestInit {
  const { method } = options;
  const body = method === "GET" || method === "HEAD" ? null : incoming.body;
  return { method, headers: upstreamHeaders(options), body, redirect: "manual" };
}
