/**
 * The logical handlers every differential upstream registers, and the log of what reached
 * them. The log is the ground truth of the differential suite: the gateway's answer says
 * what it decided, the log says which handler a framework actually ran for that spelling.
 */
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";

/** Picks the upstream that serves a request on the shared server. */
export const UPSTREAM_HEADER = "x-differential-upstream";
/** A number unique to each request sent, so an answer can be matched to what arrived. */
export const PROBE_HEADER = "x-differential-probe";

/** Every handler: its id, the method it is registered for, its route and a path it serves. */
export const HANDLERS = [
  { id: "public-info", method: "GET", route: "/public/info", canonical: "/public/info" },
  { id: "health", method: "GET", route: "/health", canonical: "/health" },
  { id: "admin-root", method: "GET", route: "/admin", canonical: "/admin" },
  { id: "admin-users", method: "GET", route: "/admin/users", canonical: "/admin/users" },
  { id: "reports", method: "GET", route: "/reports", canonical: "/reports" },
  { id: "order-read", method: "GET", route: "/orders/:id", canonical: "/orders/1" },
  { id: "order-update", method: "POST", route: "/orders/:id", canonical: "/orders/1" },
  { id: "order-delete", method: "DELETE", route: "/orders/:id", canonical: "/orders/1" },
  { id: "api-items", method: "GET", route: "/api/items", canonical: "/api/items" },
] as const;

export type Handler = (typeof HANDLERS)[number];
export type HandlerId = Handler["id"];

/** What a handler answers: 200 JSON naming the upstream, the handler and the method it saw. */
export interface HandlerAnswer {
  readonly upstream: string;
  readonly handler: HandlerId;
  readonly method: string;
}

/** A request as it arrived at the shared server, before any framework touched it. */
export interface Arrival {
  readonly upstream: string;
  readonly probe: string | undefined;
  readonly method: string;
  /** The raw request-target, as the server read it off the wire. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
}

/** A handler that ran. */
export interface Hit extends Arrival {
  readonly handler: HandlerId;
}

/** Every arrival and every handler run, in order, findable by probe number. */
export class HitLog {
  readonly arrivals: Arrival[] = [];
  readonly hits: Hit[] = [];
  readonly #arrivalsByProbe = new Map<string, Arrival>();
  readonly #hitsByProbe = new Map<string, Hit[]>();

  arrived(upstream: string, request: IncomingMessage): void {
    const arrival = describe(upstream, request);
    this.arrivals.push(arrival);
    if (arrival.probe !== undefined) this.#arrivalsByProbe.set(arrival.probe, arrival);
  }

  /** Called by a handler: `method` is the method the framework dispatched on. */
  hit(upstream: string, handler: HandlerId, method: string, request: IncomingMessage): HandlerAnswer {
    const hit: Hit = { ...describe(upstream, request), method, handler };
    this.hits.push(hit);
    if (hit.probe !== undefined) {
      const list = this.#hitsByProbe.get(hit.probe) ?? [];
      list.push(hit);
      this.#hitsByProbe.set(hit.probe, list);
    }
    return { upstream, handler, method };
  }

  arrivalOf(probe: string): Arrival | undefined {
    return this.#arrivalsByProbe.get(probe);
  }

  hitsOf(probe: string): readonly Hit[] {
    return this.#hitsByProbe.get(probe) ?? [];
  }
}

function describe(upstream: string, request: IncomingMessage): Arrival {
  const probe = request.headers[PROBE_HEADER];
  return {
    upstream,
    probe: typeof probe === "string" ? probe : undefined,
    method: request.method ?? "",
    url: request.url ?? "",
    headers: request.headers,
  };
}

/** The handler registered for `method` on `route`, if any. */
export function handlerFor(route: string, method: string): Handler | undefined {
  return HANDLERS.find((handler) => handler.route === route && handler.method === method);
}

/** The distinct routes, in registration order. */
export const ROUTES_SERVED: readonly string[] = [...new Set(HANDLERS.map((handler) => handler.route))];
