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
import type { RouteRule, UnauthenticatedAnswer } from "./route-rules";

export type { RouteRule, UnauthenticatedAnswer } from "./route-rules";
export { parseRouteRules } from "./route-rules";

export type RouteDecision =
  | { readonly access: "public" }
  | {
      readonly access: "protected";
      readonly scopes: readonly string[];
      readonly roles: readonly string[];
      readonly unauthenticated?: UnauthenticatedAnswer;
      readonly strictRevocation?: true;
    };

export type ProtectedDecision = Extract<RouteDecision, { access: "protected" }>;

const PUBLIC: RouteDecision = Object.freeze({ access: "public" });
const PROTECTED_DEFAULT: RouteDecision = Object.freeze({ access: "protected", scopes: [], roles: [] });

/** A rule's path under one way of reading: exact, prefix (`below`) or any. */
interface Matcher {
  readonly any: boolean;
  /** An exact path, or a prefix rule's base ("/api" for "/api/*"). */
  readonly base: string;
  /** A prefix rule's base with its slash ("/api/"); undefined for an exact path. */
  readonly below: string | undefined;
}

/** The four ways of reading a path: as written, trimmed, folded, folded and trimmed. */
const AS_WRITTEN = 0;
const TRIMMED = 1;
const FOLDED = 2;
const FOLDED_TRIMMED = 3;

interface CompiledRule {
  readonly methods: readonly string[] | undefined;
  readonly matchers: readonly [Matcher, Matcher, Matcher, Matcher];
  readonly decision: RouteDecision;
}

interface CompiledRules {
  readonly rules: readonly CompiledRule[];
  /** Some rule path changes when trimmed / when folded: those readings must be tried even for a path that does not. */
  readonly trimChangesRules: boolean;
  readonly foldChangesRules: boolean;
  /** What a POST could become: every method a rule names, POST, and one no rule names (""). */
  readonly overrideMethods: readonly string[];
}

/** Without trailing slashes ("/" stays "/"). */
function trim(path: string): string {
  if (path.length <= 1 || path.charCodeAt(path.length - 1) !== 0x2f) return path;
  let end = path.length - 1;
  while (end > 0 && path.charCodeAt(end - 1) === 0x2f) end--;
  return end === 0 ? "/" : path.slice(0, end);
}

const READINGS: readonly ((path: string) => string)[] = [
  (path) => path,
  trim,
  (path) => path.toLowerCase(),
  (path) => trim(path.toLowerCase()),
];

function matcherOf(rule: RouteRule, read: (path: string) => string): Matcher {
  const any = rule.path === "*" || rule.path === "/*";
  const prefix = !any && rule.path.endsWith("/*");
  const base = read(rule.match);
  return { any, base, below: prefix ? `${base}/` : undefined };
}

const compiledLists = new WeakMap<readonly RouteRule[], CompiledRules>();

function compile(rules: readonly RouteRule[]): CompiledRules {
  let compiled = compiledLists.get(rules);
  if (compiled === undefined) {
    const list = rules.map(
      (rule): CompiledRule => ({
        methods: rule.methods,
        matchers: [
          matcherOf(rule, READINGS[AS_WRITTEN] as (path: string) => string),
          matcherOf(rule, trim),
          matcherOf(rule, READINGS[FOLDED] as (path: string) => string),
          matcherOf(rule, READINGS[FOLDED_TRIMMED] as (path: string) => string),
        ],
        decision: rule.public
          ? PUBLIC
          : Object.freeze({
              access: "protected",
              scopes: rule.scopes ?? [],
              roles: rule.roles ?? [],
              ...(rule.unauthenticated !== undefined ? { unauthenticated: rule.unauthenticated } : {}),
              ...(rule.revocation === "strict" ? { strictRevocation: true as const } : {}),
            }),
      }),
    );
    const methods = new Set(["POST", ...rules.flatMap((rule) => rule.methods ?? []), ""]);
    compiled = {
      rules: list,
      trimChangesRules: list.some((rule) => rule.matchers[TRIMMED].base !== rule.matchers[AS_WRITTEN].base),
      foldChangesRules: list.some((rule) => rule.matchers[FOLDED].base !== rule.matchers[AS_WRITTEN].base),
      overrideMethods: [...methods],
    };
    compiledLists.set(rules, compiled);
  }
  return compiled;
}

function firstMatch(rules: readonly CompiledRule[], method: string, path: string, reading: number): RouteDecision {
  for (const rule of rules) {
    if (rule.methods && !rule.methods.includes(method)) continue;
    const { any, base, below } = rule.matchers[reading] as Matcher;
    if (any || path === base || (below !== undefined && path.startsWith(below))) return rule.decision;
  }
  return PROTECTED_DEFAULT;
}

/** The stricter of two decisions: public only if both are, else what either requires. */
export function strictest(a: RouteDecision, b: RouteDecision): RouteDecision {
  if (a === b || b.access === "public") return a;
  if (a.access === "public") return b;
  if (requiresNothing(b)) return a;
  if (requiresNothing(a)) return b;
  const scopes = union(a.scopes, b.scopes);
  const roles = union(a.roles, b.roles);
  const strict = a.strictRevocation ?? b.strictRevocation;
  if (scopes === a.scopes && roles === a.roles && strict === a.strictRevocation) return a;
  const unauthenticated = a.unauthenticated ?? b.unauthenticated;
  return Object.freeze({
    access: "protected",
    scopes,
    roles,
    ...(unauthenticated !== undefined ? { unauthenticated } : {}),
    ...(strict ? { strictRevocation: true as const } : {}),
  });
}

/** Authenticated, nothing more: any other protected decision is at least as strict. */
function requiresNothing(decision: ProtectedDecision): boolean {
  return decision.scopes.length === 0 && decision.roles.length === 0 && decision.strictRevocation === undefined;
}

function union(a: readonly string[], b: readonly string[]): readonly string[] {
  const missing = b.filter((name) => !a.includes(name));
  return missing.length === 0 ? a : Object.freeze([...a, ...missing]);
}

/** The decision for one method, over every reading of every path reading. */
function decideForMethod(compiled: CompiledRules, method: string, readings: readonly string[]): RouteDecision {
  const { rules, trimChangesRules, foldChangesRules } = compiled;
  let decision: RouteDecision | undefined;
  const join = (found: RouteDecision) => {
    decision = decision === undefined ? found : strictest(decision, found);
  };
  for (const path of readings) {
    join(firstMatch(rules, method, path, AS_WRITTEN));
    const trimmed = trim(path);
    if (trimmed !== path || trimChangesRules) join(firstMatch(rules, method, trimmed, TRIMMED));
    const folded = FOLDABLE.test(path) ? path.toLowerCase() : path;
    if (folded !== path || foldChangesRules) join(firstMatch(rules, method, folded, FOLDED));
    const foldedTrimmed = trim(folded);
    if (foldedTrimmed !== trimmed || foldChangesRules || trimChangesRules) {
      join(firstMatch(rules, method, foldedTrimmed, FOLDED_TRIMMED));
    }
  }
  return decision ?? PROTECTED_DEFAULT;
}

// A character that lower-casing could change: an ASCII capital, or anything beyond ASCII.
const FOLDABLE = /[A-Z\u0080-\uffff]/;

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
