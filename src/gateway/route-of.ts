/**
 * The route decision for a request, from its canonical form (never from the path as the
 * client spelled it), and the other path comparisons the gateway makes on that form.
 */
import { decideRoute, type RouteDecision } from "../policy/route-policy";
import type { RequestContext } from "./request-context";

/** The rule that applies to this request (its canonical path's readings, its method). */
export function routeOf(context: RequestContext): RouteDecision {
  const { canonical, config } = context;
  const readings = canonical.ok ? canonical.readings : [context.path];
  return decideRoute(config.routes, context.method, readings, { postMayOverride: config.postMayOverride });
}

/**
 * Does any reading of the request's path fall within `prefix` ("/a" and "/a/b" for "/a",
 * not "/ab"), in any letter case? For paths that must never be proxied, whatever the
 * spelling (the upstream's credential check).
 */
export function readsAsWithin(context: RequestContext, prefix: string): boolean {
  const { canonical } = context;
  return readingsWithin(canonical.ok ? canonical.readings : [context.path], prefix);
}

/**
 * The comparison of `readsAsWithin` on the readings themselves: the Worker asks it of a
 * request, `portcullis explain` of a path it was given.
 */
export function readingsWithin(readings: readonly string[], prefix: string): boolean {
  const folded = prefix.toLowerCase();
  for (const reading of readings) {
    const path = reading.toLowerCase();
    if (path.startsWith(folded) && (path.length === folded.length || path.charCodeAt(folded.length) === 0x2f)) {
      return true;
    }
  }
  return false;
}
