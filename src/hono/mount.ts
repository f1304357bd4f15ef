/**
 * `mountAuthEndpoints(app, options)`: serves the gateway's endpoints from your Hono app,
 * from the same tables as the standalone Worker (auth/routes.ts): POST /auth/login,
 * /auth/refresh, /auth/logout, /auth/revoke, the user's sessions (GET /auth/sessions,
 * DELETE /auth/sessions/{id}, POST /auth/sessions/revoke-others), the operator endpoints, OpenID Connect login
 * (GET /auth/oidc/login, /auth/oidc/callback, POST /auth/oidc/backchannel-logout; they
 * answer 404 unless OIDC_* is configured), and GET /.well-known/jwks.json. Each answers
 * its errors itself, through the one mapping.
 *
 * @example
 * mountAuthEndpoints(app, { checkCredentials: ({ username, password }) => users.check(username, password) });
 */
import type { Context, Hono, Env as HonoEnv, Schema } from "hono";
import {
  AUTH_PATHS,
  AUTH_ROUTES,
  type AuthHandler,
  allowedMethods,
  handleJwks,
  JWKS_PATH,
  NAVIGATION_ROUTES,
  noteDegradedPublishing,
} from "../auth/routes";
import { GatewayError } from "../errors/gateway-error";
import { serveWithContext } from "../gateway/envelope";
import { type PortcullisOptions, type ResolvedOptions, resolveOptions } from "./options";

function serve(resolved: ResolvedOptions, handler: AuthHandler) {
  return function portcullisEndpoint(c: Context): Promise<Response> {
    return serveWithContext(c.req.raw, () => resolved.contextFor(c), handler);
  };
}

/** Mounts the auth endpoints and the JWKS on `app`. Options are checked here, once. */
export function mountAuthEndpoints<E extends HonoEnv, S extends Schema, BasePath extends string>(
  app: Hono<E, S, BasePath>,
  options?: PortcullisOptions<E>,
): Hono<E, S, BasePath> {
  const resolved = resolveOptions(options);
  for (const [method, path, handler] of AUTH_ROUTES) {
    const noted: AuthHandler = async (context, request) =>
      noteDegradedPublishing(context, await handler(context, request));
    app.on(method, path, serve(resolved, noted));
  }
  for (const path of AUTH_PATHS) {
    const notAllowed: AuthHandler = async (context) => {
      const routes = { loginProviders: context.config.loginProviders.length > 0 };
      throw new GatewayError("method_not_allowed", { allow: allowedMethods(path, routes) });
    };
    app.all(path, serve(resolved, notAllowed));
  }
  const onlyGet: AuthHandler = async () => {
    throw new GatewayError("method_not_allowed", { allow: "GET, HEAD" });
  };
  for (const [path, handler] of NAVIGATION_ROUTES) {
    app.get(path, serve(resolved, handler));
    app.all(path, serve(resolved, onlyGet));
  }
  app.get(
    JWKS_PATH,
    serve(resolved, async (context) => handleJwks(context)),
  );
  return app;
}
