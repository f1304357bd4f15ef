/**
 * The Hono app: auth endpoints, the JWKS, and the gateway pipeline for everything else.
 * One error handler turns every refusal into its RFC 6750 / problem+json answer.
 */
import { Hono } from "hono";
import { handleLogin } from "./auth/login";
import { handleLogout } from "./auth/logout";
import { handleBackchannelLogout } from "./auth/oidc-backchannel-logout";
import { handleOidcCallback } from "./auth/oidc-callback";
import { handleOidcLogin } from "./auth/oidc-login";
import { isNavigation, loginRedirectFor } from "./auth/oidc-navigation";
import { handleRevokeSession, handleRevokeSubject } from "./auth/operator";
import { handleRefresh } from "./auth/refresh";
import { handleRevoke } from "./auth/revoke-token";
import type { Env } from "./config/env";
import { ConfigError } from "./config/parse-config";
import { errorPage } from "./errors/error-page";
import { GatewayError } from "./errors/gateway-error";
import { problemResponse, statusOf } from "./errors/problem";
import { handleGatewayRequest } from "./gateway/gateway";
import { createRequestContext, type RequestContext } from "./gateway/request-context";
import { corsFor, isCrossOriginCandidate } from "./http/cors";
import { discardUnreadBody } from "./http/read-body";
import { appendClearedCookies } from "./http/token-response";
import { log } from "./log/logger";

type AppEnv = { Bindings: Env; Variables: { context: RequestContext } };
type Handler = (context: RequestContext, request: Request) => Promise<Response>;

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

/** The gateway's own endpoints; every other path goes to the upstream. */
const AUTH_ROUTES: ReadonlyArray<readonly [string, Handler]> = [
  ["/auth/login", handleLogin],
  ["/auth/refresh", handleRefresh],
  ["/auth/logout", handleLogout],
  ["/auth/revoke", handleRevoke],
  ["/auth/operator/revoke-subject", handleRevokeSubject],
  ["/auth/operator/revoke-session", handleRevokeSession],
  ["/auth/oidc/backchannel-logout", handleBackchannelLogout],
];

/** Endpoints a browser navigates to (login through an OpenID Connect provider). */
const NAVIGATION_ROUTES: ReadonlyArray<readonly [string, Handler]> = [
  ["/auth/oidc/login", handleOidcLogin],
  ["/auth/oidc/callback", handleOidcCallback],
];

/**
 * A revocation this request made is recorded, but could not be published to the edge
 * (KV's daily write limit, or KV down): say so to the caller who revoked, as the log does.
 */
function noteDegradedPublishing(context: RequestContext, response: Response): Response {
  const publishing = context.revocations.publishing;
  if (publishing === "kv_writes" || publishing === "kv_unavailable") {
    response.headers.set("portcullis-degraded", publishing === "kv_writes" ? "kv-writes-exhausted" : "kv-unavailable");
  }
  return response;
}

export function createApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.use("*", async function withRequestContext(c, next) {
    const context = await createRequestContext(c.env, c.req.raw);
    if (context.config.mode === "development" && !LOOPBACK_HOSTS.has(new URL(c.req.url).hostname)) {
      throw new ConfigError("PORTCULLIS_ENV", '"development" serves only localhost; deploy with --env production');
    }
    c.set("context", context);
    await next();
    c.res.headers.set("x-request-id", context.requestId);
    await discardUnreadBody(c.req.raw);
  });

  app.use("*", function crossOrigin(c, next) {
    const { config } = c.var.context;
    return isCrossOriginCandidate(config, c.req.raw) ? corsFor(config)(c, next) : next();
  });

  for (const [path, handler] of AUTH_ROUTES) {
    app.post(path, async (c) => noteDegradedPublishing(c.var.context, await handler(c.var.context, c.req.raw)));
    app.all(path, () => {
      throw new GatewayError("method_not_allowed");
    });
  }

  for (const [path, handler] of NAVIGATION_ROUTES) {
    app.get(path, (c) => handler(c.var.context, c.req.raw));
    app.all(path, () => {
      throw new GatewayError("method_not_allowed", { allow: "GET, HEAD" });
    });
  }

  app.get("/.well-known/jwks.json", (c) =>
    c.json(c.var.context.keys.publicJwks, 200, { "cache-control": "public, max-age=300" }),
  );

  app.all("*", (c) => handleGatewayRequest(c.var.context, c.req.raw));

  app.onError(async function answerError(error, c) {
    const context = c.get("context") as RequestContext | undefined;
    const requestId = context?.requestId ?? crypto.randomUUID();
    const realm = context?.config.realm ?? "portcullis";
    if (error instanceof GatewayError) {
      const fields = { requestId, code: error.code, status: statusOf(error.code), detail: error.detail };
      if (error instanceof ConfigError) log.error("config_invalid", { ...fields, setting: error.setting });
      else if (statusOf(error.code) >= 500) log.error("dependency_failed", fields);
      else log.info("request_refused", fields);
      const redirect = context ? loginRedirectFor(context, c.req.raw, error) : undefined;
      if (redirect !== undefined) return redirect;
      const headers = new Headers();
      if (error.code === "method_not_allowed") headers.set("allow", error.allow ?? "POST");
      if (error.clearSession && context) appendClearedCookies(headers, context.config);
      if (isNavigation(c.req.raw) && c.req.path.startsWith("/auth/oidc/")) {
        return errorPage(error, { realm, requestId }, headers);
      }
      return problemResponse(error, { realm, requestId }, headers);
    }
    log.error("unexpected_error", { requestId, name: (error as Error)?.name, message: (error as Error)?.message });
    return problemResponse(new GatewayError("internal_error", { cause: error }), { realm, requestId });
  });

  return app;
}
