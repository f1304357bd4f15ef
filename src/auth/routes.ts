/**
 * The gateway's own endpoints, in one table that both the standalone Worker (app.ts) and
 * `mountAuthEndpoints` (portcullis/hono) mount, so the two serve the same contract.
 */
import type { RequestContext } from "../gateway/request-context";
import { OIDC_CALLBACK_PATH, OIDC_LOGIN_PATH } from "../oidc/endpoints";
import { handleLogin } from "./login";
import { handleLoginChooser } from "./login-chooser";
import { handleLogout } from "./logout";
import { handleBackchannelLogout, handleProviderBackchannelLogout } from "./oidc-backchannel-logout";
import { handleOidcCallback, handleProviderCallback } from "./oidc-callback";
import { handleOidcLogin, handleProviderLogin } from "./oidc-login";
import { handleListSubjectSessions, handleRevokeSession, handleRevokeSubject } from "./operator";
import {
  handleCreateServiceClient,
  handleListServiceClients,
  handleRevokeServiceClient,
  handleRotateServiceClient,
} from "./operator-service-clients";
import { handleRefresh } from "./refresh";
import { handleRevoke } from "./revoke-token";
import { handleServiceToken } from "./service-token";
import { handleEndSession, handleListSessions, handleRevokeOtherSessions } from "./user-sessions";

export type AuthHandler = (context: RequestContext, request: Request) => Promise<Response>;

export type AuthMethod = "GET" | "POST" | "DELETE";

/**
 * The API endpoints: method, path (hono syntax), handler. Another method on one of these
 * paths is answered 405 with the methods it takes (`allowedMethods`). Literal paths come
 * before the parameterised ones they would otherwise match.
 */
export const AUTH_ROUTES: ReadonlyArray<readonly [AuthMethod, string, AuthHandler]> = [
  ["POST", "/auth/login", handleLogin],
  ["POST", "/auth/refresh", handleRefresh],
  ["POST", "/auth/logout", handleLogout],
  ["POST", "/auth/revoke", handleRevoke],
  ["GET", "/auth/sessions", handleListSessions],
  ["POST", "/auth/sessions/revoke-others", handleRevokeOtherSessions],
  ["DELETE", "/auth/sessions/:sid", handleEndSession],
  ["POST", "/auth/operator/revoke-subject", handleRevokeSubject],
  ["POST", "/auth/operator/revoke-session", handleRevokeSession],
  ["GET", "/auth/operator/sessions", handleListSubjectSessions],
  // Service clients (docs/identities.md): off, 404, without the SERVICE_CLIENTS binding.
  ["POST", "/auth/token", handleServiceToken],
  ["POST", "/auth/operator/service-clients", handleCreateServiceClient],
  ["GET", "/auth/operator/service-clients", handleListServiceClients],
  ["POST", "/auth/operator/service-clients/:id/rotate", handleRotateServiceClient],
  ["DELETE", "/auth/operator/service-clients/:id", handleRevokeServiceClient],
  ["POST", "/auth/oidc/backchannel-logout", handleBackchannelLogout],
  // Several login providers (docs/identities.md): the chooser, and each provider's login,
  // callback and back-channel logout; 404 for an id that names none.
  ["GET", "/auth/login", handleLoginChooser],
  ["GET", "/auth/login/:provider", handleProviderLogin],
  ["GET", "/auth/login/:provider/callback", handleProviderCallback],
  ["POST", "/auth/login/:provider/backchannel-logout", handleProviderBackchannelLogout],
];

/** Each path of AUTH_ROUTES once, in table order. */
export const AUTH_PATHS: readonly string[] = [...new Set(AUTH_ROUTES.map(([, path]) => path))];

/** Which routes a deployment serves: without login providers, GET /auth/login (the chooser) is not one. */
export interface ServedRoutes {
  readonly loginProviders: boolean;
}

const LOGIN_CHOOSER: readonly [AuthMethod, string] = ["GET", "/auth/login"];

function served(method: AuthMethod, path: string, routes: ServedRoutes): boolean {
  return routes.loginProviders || method !== LOGIN_CHOOSER[0] || path !== LOGIN_CHOOSER[1];
}

/** The methods an auth path takes, for the 405 answer's Allow header. */
export function allowedMethods(path: string, routes: ServedRoutes = { loginProviders: true }): string {
  return AUTH_ROUTES.filter(([method, routePath]) => routePath === path && served(method, routePath, routes))
    .map(([method]) => (method === "GET" ? "GET, HEAD" : method))
    .join(", ");
}

/** Endpoints a browser navigates to (GET; login through an OpenID Connect provider). */
export const NAVIGATION_ROUTES: ReadonlyArray<readonly [string, AuthHandler]> = [
  [OIDC_LOGIN_PATH, handleOidcLogin],
  [OIDC_CALLBACK_PATH, handleOidcCallback],
];

const DEGRADED_HEADER: Partial<Record<NonNullable<RequestContext["revocations"]["publishing"]>, string>> = {
  kv_writes: "kv-writes-exhausted",
  kv_unavailable: "kv-unavailable",
  too_large: "revocation-shard-too-large",
};

/**
 * A revocation this request made is recorded, but could not be published to the edge
 * (KV's daily write limit, KV down, or a shard past KV's value limit): say so to the caller who revoked, as the log does.
 */
export function noteDegradedPublishing(context: RequestContext, response: Response): Response {
  const publishing = context.revocations.publishing;
  const degraded = publishing === undefined ? undefined : DEGRADED_HEADER[publishing];
  if (degraded !== undefined) response.headers.set("portcullis-degraded", degraded);
  return response;
}

export const JWKS_PATH = "/.well-known/jwks.json";

/** A path of the tables above as a regular expression's source (":sid" is one segment). */
const patternOf = (path: string): string => path.replace(/[.]/g, "\\.").replace(/:[a-z]+/g, "[^/]+");

/** Every path the gateway answers itself, as patterns. */
const ENDPOINT_PATTERNS: readonly string[] = [...AUTH_PATHS, ...NAVIGATION_ROUTES.map(([path]) => path), JWKS_PATH].map(
  patternOf,
);
const EXACT_ENDPOINT = new RegExp(`^(?:${ENDPOINT_PATTERNS.join("|")})$`);
const LOOSE_ENDPOINT = new RegExp(`^(?:${ENDPOINT_PATTERNS.join("|")})/*$`, "i");

/**
 * Is this a spelling of one of the gateway's own endpoints other than the exact one
 * (another letter case, a trailing slash)? Such a request is answered 404, never
 * proxied: an upstream that reads paths loosely must not get it as its own.
 */
export function isEndpointLookalike(path: string, readings: readonly string[]): boolean {
  return readings.some((reading) => LOOSE_ENDPOINT.test(reading)) && !EXACT_ENDPOINT.test(path);
}

/** Which of the gateway's own endpoints answers a request, for `portcullis explain`. */
export interface OwnEndpoint {
  /** The endpoint, as its table names it ("POST /auth/login", "/auth/login" for a 405). */
  readonly endpoint: string;
  /** Set when the path is the endpoint's but the method is not one it takes: the 405's Allow. */
  readonly allow?: string;
}

/**
 * The endpoint of the gateway's own that serves `method` on the canonical `path`, in the
 * order app.ts registers them (every method's route, then each path's 405, the navigation
 * routes, the JWKS). HEAD is served as GET, as Hono does. Undefined for a request that goes
 * to the gateway pipeline: every other path, and the JWKS path with another method.
 */
export function ownEndpointOf(
  method: string,
  path: string,
  routes: ServedRoutes = { loginProviders: true },
): OwnEndpoint | undefined {
  const asked = method === "HEAD" ? "GET" : method;
  const matches = (pattern: string) => new RegExp(`^${patternOf(pattern)}$`).test(path);
  const route = AUTH_ROUTES.find(
    ([routeMethod, pattern]) => routeMethod === asked && matches(pattern) && served(routeMethod, pattern, routes),
  );
  if (route !== undefined) return { endpoint: `${route[0]} ${route[1]}` };
  const authPath = AUTH_PATHS.find(matches);
  if (authPath !== undefined) return { endpoint: authPath, allow: allowedMethods(authPath, routes) };
  const navigation = NAVIGATION_ROUTES.find(([pattern]) => pattern === path);
  if (navigation !== undefined) {
    return asked === "GET" ? { endpoint: `GET ${navigation[0]}` } : { endpoint: navigation[0], allow: "GET, HEAD" };
  }
  return path === JWKS_PATH && asked === "GET" ? { endpoint: `GET ${JWKS_PATH}` } : undefined;
}

/** GET /.well-known/jwks.json: the public keys access tokens are signed with. */
export function handleJwks(context: RequestContext): Response {
  return new Response(JSON.stringify(context.keys.publicJwks), {
    headers: { "content-type": "application/json", "cache-control": "public, max-age=300" },
  });
}
