/**
 * CORS for browser clients on other origins, with credentials (cookies), on the
 * ALLOWED_ORIGINS list only: the allowed origin is echoed, never `*`. Preflights are
 * answered at the gateway. The refreshed access token (`Authorization`), the challenge
 * and DPoP's next nonce are exposed to scripts; a DPoP proof may be sent. With no ALLOWED_ORIGINS the gateway adds no CORS
 * headers and passes the upstream's through.
 */
import type { MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import type { GatewayConfig } from "../config/config";

export const EXPOSED_HEADERS = ["Authorization", "WWW-Authenticate", "Retry-After", "X-Request-Id", "DPoP-Nonce"];

const middlewares = new WeakMap<GatewayConfig, MiddlewareHandler>();

export function corsFor(config: GatewayConfig): MiddlewareHandler {
  let middleware = middlewares.get(config);
  if (middleware === undefined) {
    middleware = cors({
      origin: (origin) => (config.allowedOrigins.includes(origin) ? origin : null),
      credentials: true,
      allowMethods: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
      allowHeaders: ["Authorization", "Content-Type", "X-Requested-With", "DPoP"],
      exposeHeaders: EXPOSED_HEADERS,
      maxAge: 600,
    });
    middlewares.set(config, middleware);
  }
  return middleware;
}

/** Does this request need the gateway's CORS handling? */
export function isCrossOriginCandidate(config: GatewayConfig, request: Request): boolean {
  return config.allowedOrigins.length > 0 && request.headers.has("origin");
}
