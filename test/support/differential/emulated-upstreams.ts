/**
 * Upstreams that read paths the way other servers do, written out by hand: a plain Node
 * router, a servlet container (Tomcat/Spring), nginx location matching and Laravel's
 * method override. Each is a `(request, response)` listener serving the same handlers as
 * the real frameworks, so the suite can aim the same spellings at them.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { UpstreamListener } from "./framework-upstreams";
import { HANDLERS, type Handler, type HitLog, ROUTES_SERVED } from "./handlers";
import {
  decodeBytes,
  decodeUtf8,
  mergeSlashes,
  rawPathOf,
  rawQueryOf,
  resolveDotSegments,
  stripSegmentParameters,
} from "./path-readings";

function send(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

/** "/orders/:id" matches "/orders/<one segment>"; every other route only itself, case-sensitively. */
function matchesRoute(route: string, path: string): boolean {
  if (!route.endsWith("/:id")) return route === path;
  const base = route.slice(0, -":id".length);
  return path.startsWith(base) && /^[^/]+$/.test(path.slice(base.length));
}

/** Runs the handler registered for `method` on the route `path` reached; 404 or 405 otherwise. */
function dispatch(
  log: HitLog,
  upstream: string,
  request: IncomingMessage,
  response: ServerResponse,
  method: string,
  reached: (route: string) => boolean,
): void {
  const routes = ROUTES_SERVED.filter(reached);
  const handler: Handler | undefined = HANDLERS.find((each) => routes.includes(each.route) && each.method === method);
  if (handler !== undefined) send(response, 200, log.hit(upstream, handler.id, method, request));
  else if (routes.length > 0) send(response, 405, { error: "method not allowed" });
  else send(response, 404, { error: "not found" });
}

/**
 * What people write with Node's own http: the WHATWG URL parser's pathname (dot segments
 * and backslashes resolved, "//host" read as an authority), decodeURIComponent, and exact
 * comparisons, with a prefix comparison for the orders.
 */
export function nodeUpstream(log: HitLog): UpstreamListener {
  return (request, response) => {
    let path: string;
    try {
      path = decodeURIComponent(new URL(request.url ?? "/", "http://x").pathname);
    } catch {
      return send(response, 400, { error: "bad request" });
    }
    const method = request.method ?? "";
    dispatch(log, "node", request, response, method, (route) =>
      route.endsWith("/:id") ? path.startsWith(route.slice(0, -":id".length)) : path === route,
    );
  };
}

/**
 * A servlet container's reading (Tomcat, Spring): `;params` stripped from every segment,
 * then percent-decoded as UTF-8, then dot segments resolved, then each segment trimmed of
 * white space as Java's String.trim does (Spring MVC's AntPathMatcher did so by default
 * before 4.3.1, CVE-2016-5007), then matched case-sensitively. A POST takes the method of
 * X-HTTP-Method-Override.
 */
export function servletUpstream(log: HitLog): UpstreamListener {
  return (request, response) => {
    const decoded = decodeUtf8(stripSegmentParameters(rawPathOf(request.url ?? "/")));
    if (decoded === undefined) return send(response, 400, { error: "bad request" });
    const path = resolveDotSegments(decoded)
      .split("/")
      // biome-ignore lint/suspicious/noControlCharactersInRegex: Java's trim() removes every character up to U+0020
      .map((segment) => segment.replace(/^[\u0000-\u0020]+|[\u0000-\u0020]+$/g, ""))
      .join("/");
    const override = request.headers["x-http-method-override"];
    const method =
      request.method === "POST" && typeof override === "string" ? override.toUpperCase() : (request.method ?? "");
    dispatch(log, "servlet", request, response, method, (route) => matchesRoute(route, path));
  };
}

/**
 * The `location` behind each route, as a config for these handlers would be written:
 * `location = /admin/users` for a fixed path, `location /orders/` (a prefix) for the orders.
 * A plain `location /admin` would be a string prefix and also take "/administrator" or
 * "/admin%20": a path the gateway rightly judges as another path, so no spelling test.
 */
const NGINX_LOCATIONS = ROUTES_SERVED.map((route) =>
  route.endsWith("/:id")
    ? { route, matches: (path: string) => path.startsWith(route.slice(0, -":id".length)) }
    : { route, matches: (path: string) => path === route },
);

/**
 * nginx's location matching: the path percent-decoded byte for byte, slashes merged and
 * dot segments resolved (one pass in nginx, so "//" is merged before ".." counts), then
 * the exact locations and the prefix ones, case-sensitively.
 */
export function nginxUpstream(log: HitLog): UpstreamListener {
  return (request, response) => {
    const decoded = decodeBytes(rawPathOf(request.url ?? "/"));
    if (decoded === undefined) return send(response, 400, { error: "bad request" });
    const path = resolveDotSegments(mergeSlashes(decoded));
    const location = NGINX_LOCATIONS.find(({ matches }) => matches(path));
    dispatch(log, "nginx", request, response, request.method ?? "", (route) => route === location?.route);
  };
}

/** The `_method` of a urlencoded or JSON body, as Laravel's Request reads its input. */
function bodyMethod(contentType: string, body: string): string | undefined {
  if (contentType.startsWith("application/x-www-form-urlencoded")) {
    return new URLSearchParams(body).get("_method") ?? undefined;
  }
  if (contentType.startsWith("application/json")) {
    try {
      const parsed: unknown = JSON.parse(body);
      const value = (parsed as Record<string, unknown> | null)?._method;
      return typeof value === "string" ? value : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/**
 * Laravel on Symfony's Request: a POST takes the method of X-HTTP-Method-Override, else of
 * the body's `_method` (urlencoded or JSON), else of the query's `_method`
 * (Request::getMethod with method-parameter override on, as Laravel sets it). The path is
 * Laravel's `decodedPath()`: slashes trimmed at both ends, then rawurldecode'd; routes match
 * it exactly and case-sensitively.
 */
export function laravelUpstream(log: HitLog): UpstreamListener {
  return async (request, response) => {
    const body = Buffer.concat(await request.toArray()).toString("utf8");
    let method = request.method ?? "";
    if (method === "POST") {
      const header = request.headers["x-http-method-override"];
      const override =
        (typeof header === "string" && header !== "" ? header : undefined) ??
        bodyMethod(request.headers["content-type"] ?? "", body) ??
        new URLSearchParams(rawQueryOf(request.url ?? "")).get("_method") ??
        undefined;
      if (override !== undefined) method = override.toUpperCase();
    }
    const trimmed = rawPathOf(request.url ?? "/").replace(/^\/+|\/+$/g, "");
    const path = `/${decodeBytes(trimmed) ?? trimmed}`;
    dispatch(log, "laravel", request, response, method, (route) => matchesRoute(route, path));
  };
}
