/**
 * CSRF and cross-site WebSocket hijacking defence for requests a browser authenticates
 * with the gateway's cookies (OWASP CSRF and WebSocket cheat sheets: verify the source
 * origin with standard headers).
 *
 * The rule, in one place (SECURITY.md, "Cookies and other sites"): a cookie-authenticated
 * request needs a trusted origin when it can change state or act as the user beyond a
 * read the browser keeps from other sites: every method but GET, HEAD and OPTIONS, and
 * every WebSocket handshake (a GET whose socket the opening page reads and writes; CORS
 * does not guard it). A GET, HEAD or OPTIONS without an upgrade is safe: its answer is
 * unreadable to another origin without CORS, which only ALLOWED_ORIGINS get, and it must
 * not change state (RFC 9110 §9.2.1), which is the upstream's promise to keep.
 *
 * Trusted: `Origin` is the gateway's own origin or in ALLOWED_ORIGINS. Without `Origin`,
 * `Sec-Fetch-Site` must be `same-origin` or `none`. A request with neither header did not
 * come from a current browser (curl, servers) and passes: it cannot ride on a victim's
 * cookies (browsers send `Origin` on every WebSocket handshake and every unsafe method).
 * `Origin: null` (a sandboxed frame, a redirect chain) never passes, and neither does a
 * sibling subdomain: same-site is not same-origin.
 */
import type { GatewayConfig } from "../config/config";
import { GatewayError } from "../errors/gateway-error";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export function isAllowedOrigin(config: GatewayConfig, requestUrl: string, origin: string): boolean {
  if (origin === "null") return false;
  return origin === new URL(requestUrl).origin || config.allowedOrigins.includes(origin);
}

/** Does this request need a trusted origin when our cookies authenticate it? */
export function needsTrustedOrigin(method: string, webSocket: boolean): boolean {
  return webSocket || !SAFE_METHODS.has(method);
}

/**
 * Refuses (403 `origin_forbidden`) a request that needs a trusted origin and has none.
 * `webSocket`: the request is a WebSocket handshake (`Upgrade: websocket`).
 */
export function assertTrustedOrigin(config: GatewayConfig, request: Request, webSocket = false): void {
  if (!needsTrustedOrigin(request.method, webSocket)) return;
  const what = webSocket ? "websocket" : "state_change";
  const origin = request.headers.get("origin");
  if (origin !== null) {
    if (isAllowedOrigin(config, request.url, origin)) return;
    throw new GatewayError("origin_forbidden", { detail: `${what} from origin ${origin.slice(0, 120)}` });
  }
  const site = request.headers.get("sec-fetch-site");
  if (site === null || site === "same-origin" || site === "none") return;
  throw new GatewayError("origin_forbidden", { detail: `${what} with Sec-Fetch-Site ${site.slice(0, 20)}` });
}
