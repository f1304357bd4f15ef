/**
 * The standalone Worker's Hono app: the auth endpoints and the JWKS (the same tables
 * portcullis/hono mounts), CORS, and the gateway pipeline for everything else. One error
 * handler turns every refusal into its RFC 6750 / problem+json answer.
 */
import { Hono } from "hono";
import { AUTH_ROUTES, handleJwks, JWKS_PATH, NAVIGATION_ROUTES, noteDegradedPublishing } from "./auth/routes";
import { assertServable } from "./config/development-guard";
import type { Env } from "./config/env";
import { GatewayError } from "./errors/gateway-error";
import { answerError } from "./gateway/answer-error";
import { handleGatewayRequest } from "./gateway/gateway";
import { createRequestContext, type RequestContext } from "./gateway/request-context";
import { corsFor, isCrossOriginCandidate } from "./http/cors";
import { discardUnreadBody } from "./http/read-body";

type AppEnv = { Bindings: Env; Variables: { context: RequestContext } };

export function createApp(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.use("*", async function withRequestContext(c, next) {
    const context = await createRequestContext(c.env, c.req.raw);
    assertServable(context.config, c.req.url);
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

  app.get(JWKS_PATH, (c) => handleJwks(c.var.context));

  app.all("*", (c) => handleGatewayRequest(c.var.context, c.req.raw));

  app.onError(function answerAnyError(error, c) {
    return answerError(error, c.get("context") as RequestContext | undefined, c.req.raw);
  });

  return app;
}
