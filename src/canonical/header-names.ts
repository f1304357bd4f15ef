/**
 * Which headers the gateway owns, each way, by one list each.
 *
 * Names are compared by their *key*: lower case, with `_` and `.` read as `-`. CGI, WSGI,
 * Rack and PHP turn `X-Auth-Subject`, `X_Auth_Subject` and `X.Auth.Subject` alike into
 * `HTTP_X_AUTH_SUBJECT`, so a client's `X_Auth_Subject` would be read as the identity
 * header the gateway sets; every spelling of an owned name is dropped. SECURITY.md ("What
 * the upstream sees") lists these, each backed by a test.
 */

const NOT_A_KEY = /[A-Z_.]/;

/** The key a name is compared by: `X_Auth.Subject` → `x-auth-subject`. */
export function headerKey(name: string): string {
  // Names from a Headers iteration are lower case already; most have neither '_' nor '.'.
  return NOT_A_KEY.test(name) ? name.toLowerCase().replace(/[_.]/g, "-") : name;
}

/** Identity headers: only the gateway sets them, from what it verified. */
export const IDENTITY_HEADER_PREFIX = "x-auth-";
/** The gateway's own headers towards the upstream (e.g. the credential-check secret). */
export const GATEWAY_HEADER_PREFIX = "x-portcullis-";

/**
 * Request headers never forwarded as the client sent them (compared by key). Those the
 * gateway needs itself (the cookie, the connection headers, the platform's client address)
 * are read from their exact names before this list drops every spelling of them.
 */
export const REQUEST_HEADERS_DROPPED: ReadonlySet<string> = new Set([
  // hop-by-hop (RFC 9110 §7.6.1); a WebSocket upgrade gets Upgrade/Connection back
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  // forwarding: X-Forwarded-For / -Proto / -Host are set from what the gateway saw
  "forwarded",
  "x-forwarded",
  "x-forwarded-for",
  "x-forwarded-proto",
  "x-forwarded-host",
  "x-forwarded-port",
  "x-forwarded-prefix",
  "x-forwarded-server",
  "x-forwarded-scheme",
  "x-forwarded-ssl",
  "x-forwarded-uri",
  "x-forwarded-path",
  "x-url-scheme",
  "front-end-https",
  "x-original-host",
  "x-host",
  // the client's address: only the platform knows it (CF-Connecting-IP → X-Forwarded-For)
  "cf-connecting-ip",
  "cf-connecting-ipv6",
  "cf-pseudo-ipv4",
  "true-client-ip",
  "x-real-ip",
  "x-client-ip",
  "x-cluster-client-ip",
  "client-ip",
  "x-originating-ip",
  "x-remote-ip",
  "x-remote-addr",
  "fastly-client-ip",
  "x-envoy-external-address",
  "x-azure-clientip",
  "x-appengine-user-ip",
  // URL rewrites that IIS, Symfony, Laravel and Zend prefer to the request line
  "x-original-url",
  "x-rewrite-url",
  "x-original-uri",
  "x-http-destinationurl",
  // method overrides: refused when they name another method (method-override.ts), else dropped
  "x-http-method-override",
  "x-http-method",
  "x-method-override",
  // Cloudflare's own, and the cookie header (rebuilt without the gateway's cookies)
  "cf-worker",
  "cookie",
  // a DPoP proof: forwarded only with the bound token it was checked against
  "dpop",
  // the signed upstream assertion: only the gateway makes one (docs/upstream-assertion.md)
  "portcullis-assertion",
  // a service client's id and secret (SERVICE_TOKEN_HEADER's suggested name): dropped even
  // where the setting is off or names another header, so a secret sent there never leaves
  "portcullis-service-token",
]);

/**
 * The name docs/identities.md suggests for SERVICE_TOKEN_HEADER, in the gateway's own
 * `Portcullis-` namespace; always dropped (above), whatever the setting.
 */
export const SUGGESTED_SERVICE_TOKEN_HEADER = "portcullis-service-token";

/** Method overrides that Express's method-override, Symfony, Laravel and others honour. */
export const METHOD_OVERRIDE_HEADERS: ReadonlySet<string> = new Set([
  "x-http-method-override",
  "x-http-method",
  "x-method-override",
]);

/** Headers a client may not send upstream under any spelling: dropped, or the gateway's own. */
export function isDroppedRequestHeader(key: string): boolean {
  return (
    REQUEST_HEADERS_DROPPED.has(key) || key.startsWith(IDENTITY_HEADER_PREFIX) || key.startsWith(GATEWAY_HEADER_PREFIX)
  );
}

/**
 * Answer headers the upstream may not send to the client, by exact name (clients read
 * answer headers by their exact names; proxy/upstream-answer.ts says why this side asks by
 * name): `Authorization` would be adopted by the browser SDK as a new access token (the
 * gateway sends one only after its own refresh), `Proxy-Authenticate` describes a proxy the
 * client never talked to, `Clear-Site-Data` would clear the gateway's cookies,
 * `Portcullis-Degraded`, `DPoP-Nonce` and `Portcullis-Assertion` are the gateway's own, `Proxy-Connection` is hop-by-hop. The
 * gateway's own cookies are filtered from `Set-Cookie` (http/cookies.ts).
 */
export const RESPONSE_HEADERS_DROPPED: ReadonlySet<string> = new Set([
  "authorization",
  "proxy-authenticate",
  "clear-site-data",
  "portcullis-degraded",
  "proxy-connection",
  "dpop-nonce",
  "portcullis-assertion",
]);
