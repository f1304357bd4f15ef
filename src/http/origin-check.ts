/**
 * CSRF defence for requests a browser authenticates with our cookies (OWASP CSRF
 * cheat sheet: verify the source origin with standard headers).
 *
 * A state-changing request passes when its `Origin` is the gateway's own origin or in
 * ALLOWED_ORIGINS; without `Origin`, when `Sec-Fetch-Site` is `same-origin` or `none`.
 * A request with neither header did not come from a current browser (curl, servers) and
 * passes: it cannot ride on a victim's cookies. `Origin: null` never passes.
 */
import type { GatewayConfig } from "../config/config";
import { GatewayError } from "../errors/gateway-error";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export function isAllowedOrigin(config: GatewayConfig, requestUrl: string, origin: string): boolean {
  if (origin === "null") return false;
  return origin === new URL(requestUrl).origin || config.allowedOrigins.includes(origin);
}

export function assertTrustedOrigin(config: GatewayConfig, request: Request): void {
  if (SAFE_METHODS.has(request.method)) return;
  const origin = request.headers.get("origin");
  if (origin !== null) {
    if (isAllowedOrigin(config, request.url, origin)) return;
    throw new GatewayError("origin_forbidden", { detail: "Origin not allowed" });
  }
  const site = request.headers.get("sec-fetch-site");
  if (site === null || site === "same-origin" || site === "none") return;
  throw new GatewayError("origin_forbidden", { detail: `Sec-Fetch-Site ${site}` });
}
