/**
 * The decision for a request: public, or protected with the scopes and roles it needs.
 *
 * Rules (route-rules.ts) are tried in order and the first that matches method and path
 * decides; a request no rule matches is protected (authenticated, no particular scope).
 *
 * Upstreams read paths more loosely than an exact comparison: Express and @koa/router
 * ignore letter case and a trailing slash by default, Hono and Fastify can be set to, a
 * servlet container strips `;` parameters, nginx merges slashes. So the decision is not
 * taken on one spelling but on every reading an upstream could route by: each of the
 * canonical path's readings (canonical/canonical-path.ts), as written, without trailing
 * slashes, in lower case, and both, each against the rules read the same way. The
 * strictest of those decisions applies: public only if every reading is public, else the
 * union of what they require. A path that differs only in case or by a trailing slash
 * from a rule's therefore gets that rule's requirements at least (SECURITY.md, "What the
 * upstream sees").
 *
 * A POST is judged as every method it could be overridden to as well, when the upstream
 * may take `_method` from its body (Laravel, Rails, Symfony; UPSTREAM_METHOD_OVERRIDE).
 */
import {
  AS_WRITTEN,
  type CompiledRules,
  compile,
  FOLDABLE,
  firstMatch,
  forEachReading,
  ownTokensOnly,
  PROTECTED_DEFAULT,
  type ProtectedDecision,
  type RouteDecision,
  trim,
} from "./route-matching";

export type { ProtectedDecision, RouteDecision } from "./route-matching";

import { OWN_TOKENS, type RouteRule } from "./route-rules";

export type { RouteRule, UnauthenticatedAnswer } from "./route-rules";
export { parseRouteRules } from "./route-rules";

/** The stricter of two decisions: public only if both are, else what either requires. */
export function strictest(a: RouteDecision, b: RouteDecision): RouteDecision {
  if (a === b || b.access === "public") return a;
  if (a.access === "public") return b;
  if (a.assertionAudience !== b.assertionAudience || (b.audienceConflict && !a.audienceConflict)) {
    return withAudienceConflict(strictest(a, withAudienceOf(a, b)));
  }
  // The default accepts the gateway's own tokens only: joined with a rule naming issuers, the issuers still narrow.
  if (requiresNothing(b) && a.issuers === undefined) return a;
  if (requiresNothing(a) && b.issuers === undefined) return b;
  const scopes = union(a.scopes, b.scopes);
  const roles = union(a.roles, b.roles);
  const strict = a.strictRevocation ?? b.strictRevocation;
  const dpop = a.dpop ?? b.dpop;
  const conditions = unionOf(a.conditions, b.conditions);
  const authentication = unionOf(a.authentication, b.authentication);
  const decisions = unionOf(a.decisions, b.decisions);
  const issuers = commonIssuers(a.issuers, b.issuers);
  if (
    scopes === a.scopes &&
    roles === a.roles &&
    strict === a.strictRevocation &&
    dpop === a.dpop &&
    conditions === a.conditions &&
    authentication === a.authentication &&
    decisions === a.decisions &&
    issuers === a.issuers
  ) {
    return a;
  }
  const unauthenticated = a.unauthenticated ?? b.unauthenticated;
  return Object.freeze({
    access: "protected",
    scopes,
    roles,
    ...(unauthenticated !== undefined ? { unauthenticated } : {}),
    ...(strict ? { strictRevocation: true as const } : {}),
    ...(dpop ? { dpop: true as const } : {}),
    ...(conditions !== undefined ? { conditions } : {}),
    ...(authentication !== undefined ? { authentication } : {}),
    ...(decisions !== undefined ? { decisions } : {}),
    ...(issuers !== undefined ? { issuers } : {}),
    ...(a.assertionAudience !== undefined ? { assertionAudience: a.assertionAudience } : {}),
    ...(a.audienceConflict ? { audienceConflict: true as const } : {}),
  });
}

/**
 * Readings decided by rules that name different assertion audiences: which service behind
 * the upstream gets the request depends on how it reads the path, so no audience is right
 * and the request is refused (docs/upstream-assertion.md, "Audience per route"). Their
 * requirements are still joined, for `portcullis explain` and the refusal's order.
 */
function withAudienceConflict(decision: RouteDecision): RouteDecision {
  if (decision.access === "public" || decision.audienceConflict) return decision;
  return Object.freeze({ ...decision, audienceConflict: true as const });
}

/** `b` with `a`'s audience and no conflict of its own, to join their other requirements. */
function withAudienceOf(a: ProtectedDecision, b: ProtectedDecision): ProtectedDecision {
  const { assertionAudience: _audience, audienceConflict: _conflict, ...requirements } = b;
  return a.assertionAudience === undefined ? requirements : { ...requirements, assertionAudience: a.assertionAudience };
}

const OWN_ONLY: readonly string[] = Object.freeze([OWN_TOKENS]);

/**
 * The issuers both accept (absent: the gateway's own alone): the strictest is the
 * intersection, which may be empty (no token passes). Absent again when it is just "self".
 */
function commonIssuers(
  a: readonly string[] | undefined,
  b: readonly string[] | undefined,
): readonly string[] | undefined {
  if (a === b) return a;
  const left = a ?? OWN_ONLY;
  const right = b ?? OWN_ONLY;
  const common = left.filter((id) => right.includes(id));
  if (ownTokensOnly(common)) return undefined;
  if (a !== undefined && common.length === a.length) return a;
  if (b !== undefined && common.length === b.length) return b;
  return Object.freeze(common);
}

/** Conditions (step-up requirements, decisions) of several rules: every one must hold (the same rule's once). */
function unionOf<T>(a: readonly T[] | undefined, b: readonly T[] | undefined): readonly T[] | undefined {
  if (b === undefined || a === b) return a;
  if (a === undefined) return b;
  const missing = b.filter((condition) => !a.includes(condition));
  return missing.length === 0 ? a : Object.freeze([...a, ...missing]);
}

/** Authenticated, nothing more: any other protected decision is at least as strict. */
function requiresNothing(decision: ProtectedDecision): boolean {
  return (
    decision.scopes.length === 0 &&
    decision.roles.length === 0 &&
    decision.strictRevocation === undefined &&
    decision.dpop === undefined &&
    decision.conditions === undefined &&
    decision.authentication === undefined &&
    decision.decisions === undefined &&
    decision.issuers === undefined &&
    decision.audienceConflict === undefined
  );
}

function union(a: readonly string[], b: readonly string[]): readonly string[] {
  const missing = b.filter((name) => !a.includes(name));
  return missing.length === 0 ? a : Object.freeze([...a, ...missing]);
}

/** The decision for one method, over every reading of every path reading. */
function decideForMethod(compiled: CompiledRules, method: string, readings: readonly string[]): RouteDecision {
  let decision: RouteDecision | undefined;
  for (const path of readings) {
    forEachReading(compiled, path, (read, reading) => {
      const found = firstMatch(compiled.rules, method, read, reading);
      decision = decision === undefined ? found : strictest(decision, found);
    });
  }
  return decision ?? PROTECTED_DEFAULT;
}

export interface DecideOptions {
  /** A POST may become another method upstream (`_method` in its body): judge it as each. */
  readonly postMayOverride?: boolean;
}

/**
 * Decide the policy for a request. `method` is upper case; `readings` are the canonical
 * path's readings (canonical/canonical-path.ts), never a path as the client spelled it.
 */
export function decideRoute(
  rules: readonly RouteRule[],
  method: string,
  readings: readonly string[],
  options: DecideOptions = {},
): RouteDecision {
  const compiled = compile(rules);
  const path = readings[0];
  // The common request: one reading, no letter to fold, no trailing slash, rules unchanged by either.
  if (
    readings.length === 1 &&
    path !== undefined &&
    !compiled.foldChangesRules &&
    !compiled.trimChangesRules &&
    !(method === "POST" && options.postMayOverride) &&
    trim(path) === path &&
    !FOLDABLE.test(path)
  ) {
    return firstMatch(compiled.rules, method, path, AS_WRITTEN);
  }
  if (method !== "POST" || !options.postMayOverride) return decideForMethod(compiled, method, readings);
  let decision: RouteDecision | undefined;
  for (const overridden of compiled.overrideMethods) {
    const found = decideForMethod(compiled, overridden, readings);
    decision = decision === undefined ? found : strictest(decision, found);
  }
  return decision ?? PROTECTED_DEFAULT;
}

export interface MissingGrants {
  readonly scopes: readonly string[];
  readonly roles: readonly string[];
}

const NOTHING_MISSING: MissingGrants = Object.freeze({ scopes: Object.freeze([]), roles: Object.freeze([]) });

/** What a protected route needs that the token lacks; empty when it may pass. */
export function missingGrants(
  decision: ProtectedDecision,
  granted: { scopes: ReadonlySet<string>; roles: ReadonlySet<string> },
): MissingGrants {
  if (decision.scopes.length === 0 && decision.roles.length === 0) return NOTHING_MISSING;
  return {
    scopes: decision.scopes.filter((scope) => !granted.scopes.has(scope)),
    roles: decision.roles.filter((role) => !granted.roles.has(role)),
  };
}
