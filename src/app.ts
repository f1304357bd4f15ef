/**
 * The standalone Worker: one envelope (src/gateway/envelope.ts) around every request.
 * Proxied paths go straight into the gateway pipeline; the gateway's own endpoints (the
 * same tables portcullis/hono mounts), the JWKS, and cross-origin requests that need CORS
 * go through a small Hono app, which brings routing, method checks and hono's CORS
 * middleware. Both share the envelope's request context and the one error mapping.
 */
import { Hono } from "hono";
import {
  AUTH_PATHS,
  AUTH_ROUTES,
  allowedMethods,
  handleJwks,
  isEndpointLookalike,
  JWKS_PATH,
  NAVIGATION_ROUTES,
  noteDegradedPublishing,
} from "./auth/routes";
import { GatewayError } from "./errors/gateway-error";
import { answerError } from "./gateway/answer-error";
import type { Env } from "./gateway/env";
import { serveRequest } from "./gateway/envelope";
import { handleGatewayRequest } from "./gateway/gateway";
import type { RequestContext } from "./gateway/request-context";
import { corsFor, isCrossOriginCandidate } from "./http/cors";

type AppEnv = { Bindings: { context: RequestContext } };

/** The Hono app for the gateway's own endpoints, and for any request that needs CORS. */
export function createApp(): Hono<AppEnv> {
  // Routed by the request's canonical path, as everything else is (gateway/request-context.ts).
  const app = new Hono<AppEnv>({
    getPath: (request, options) => options?.env?.context.path ?? new URL(request.url).pathname,
  });

  app.use("*", function crossOrigin(c, next) {
    const { config } = c.env.context;
    return isCrossOriginCandidate(config, c.req.raw) ? corsFor(config)(c, next) : next();
  });

  for (const [method, path, handler] of AUTH_ROUTES) {
    app.on(method, path, async (c) => noteDegradedPublishing(c.env.context, await handler(c.env.context, c.req.raw)));
  }
  for (const path of AUTH_PATHS) {
    app.all(path, (c) => {
      const routes = { loginProviders: c.env.context.config.loginProviders.length > 0 };
      throw new GatewayError("method_not_allowed", { allow: allowedMethods(path, routes) });
    });
  }

  for (const [path, handler] of NAVIGATION_ROUTES) {
    app.get(path, (c) => handler(c.env.context, c.req.raw));
    app.all(path, () => {
      throw new GatewayError("method_not_allowed", { allow: "GET, HEAD" });
    });
  }

  app.get(JWKS_PATH, (c) => handleJwks(c.env.context));

  app.all("*", (c) => handleGatewayRequest(c.env.context, c.req.raw));

  // Inside the app, so that CORS headers are added to refusals too.
  app.onError(function answerAnyError(error, c) {
    return answerError(error, c.env.context, c.req.raw);
  });

  return app;
}

/** Does this request need the Hono app (routing, CORS), or can it go straight to the pipeline? */
function needsApp(context: RequestContext, request: Request): boolean {
  const { path } = context;
  return path.startsWith("/auth/") || path === JWKS_PATH || isCrossOriginCandidate(context.config, request);
}

/** A look-alike of one of the gateway's own paths (case, trailing slash) is its, and not found. */
function serve(app: Hono<AppEnv>, context: RequestContext, raw: Request): Promise<Response> {
  if (context.canonical.ok && isEndpointLookalike(context.path, context.canonical.readings)) {
    return Promise.resolve(new Response(null, { status: 404 }));
  }
  return needsApp(context, raw) ? Promise.resolve(app.fetch(raw, { context })) : handleGatewayRequest(context, raw);
}

export function createWorker(): ExportedHandler<Env> {
  const app = createApp();
  return {
    fetch(request, env, execution) {
      return serveRequest(env, request as Request, (context, raw) => serve(app, context, raw), execution);
    },
  };
}
