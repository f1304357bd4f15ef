/**
 * Which routes are public and which scopes or roles a protected route needs.
 *
 * Rules come from the ROUTES setting, are checked in order, and the first that matches
 * method and path decides. A request no rule matches is protected (authenticated, no
 * particular scope): protected by default.
 *
 * ```toml
 * ROUTES = [
 *   { path = "/health", public = true },
 *   { path = "/public/*", methods = ["GET"], public = true },
 *   { path = "/admin/*", scopes = ["admin"] },
 *   { path = "/orders/*", methods = ["POST", "DELETE"], roles = ["clerk"] },
 *   { path = "/api/*", unauthenticated = "challenge" },   # never redirect to the OIDC login
 *   { path = "/payments/*", revocation = "strict" },      # ask the session's object every time
 * ]
 * ```
 */

export interface RouteRule {
  /** Exact path ("/health"), prefix ("/api/*" matches "/api" and everything below) or "*". */
  readonly path: string;
  /** Upper-case methods this rule applies to; all methods when absent. */
  readonly methods?: readonly string[];
  readonly public?: boolean;
  /** Every one of these must be in the token's `scope`. */
  readonly scopes?: readonly string[];
  /** Every one of these must be in the token's `roles`. */
  readonly roles?: readonly string[];
  /**
   * Without a valid token: "login" always redirects to the OIDC login, "challenge" always
   * answers the RFC 6750 401; absent, browser navigations redirect (when OIDC is on).
   */
  readonly unauthenticated?: UnauthenticatedAnswer;
  /**
   * "strict": besides KV, ask the session's Durable Object on every request whether the
   * session is alive, so an ended session is refused everywhere at the next request
   * (one Durable Object round trip per request; docs/configuration.md).
   */
  readonly revocation?: "strict";
}

export type UnauthenticatedAnswer = "login" | "challenge";

export type RouteDecision =
  | { readonly access: "public" }
  | {
      readonly access: "protected";
      readonly scopes: readonly string[];
      readonly roles: readonly string[];
      readonly unauthenticated?: UnauthenticatedAnswer;
      readonly strictRevocation?: true;
    };

const PROTECTED_DEFAULT: RouteDecision = Object.freeze({ access: "protected", scopes: [], roles: [] });
const METHOD = /^[A-Z]+$/;
const NAME = /^[\x21-\x7e]+$/;

function stringList(value: unknown, what: string, pattern: RegExp, fail: (problem: string) => Error): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((item) => typeof item !== "string" || !pattern.test(item))) {
    throw fail(`${what} must be a list of ${what === "methods" ? "upper-case methods" : "names without spaces"}`);
  }
  return value as string[];
}

/** Validate ROUTES once, at config time. */
export function parseRouteRules(raw: unknown, fail: (problem: string) => Error): readonly RouteRule[] {
  if (raw === undefined) return Object.freeze([]);
  if (!Array.isArray(raw)) throw fail("must be a list of route rules");
  return Object.freeze(
    raw.map((item: unknown, index): RouteRule => {
      const rule = item as Record<string, unknown>;
      if (typeof rule !== "object" || rule === null) throw fail(`rule ${index} must be an object`);
      const path = rule.path;
      if (typeof path !== "string" || !(path === "*" || path.startsWith("/"))) {
        throw fail(`rule ${index} needs a "path" starting with "/" (or "*")`);
      }
      if (path.includes("*") && !(path === "*" || (path.endsWith("/*") && path.indexOf("*") === path.length - 1))) {
        throw fail(`rule ${index}: "*" is allowed only as the last segment ("/api/*")`);
      }
      const methods = stringList(rule.methods, "methods", METHOD, fail);
      const scopes = stringList(rule.scopes, "scopes", NAME, fail);
      const roles = stringList(rule.roles, "roles", NAME, fail);
      const isPublic = rule.public === true;
      const unauthenticated = rule.unauthenticated;
      if (unauthenticated !== undefined && unauthenticated !== "login" && unauthenticated !== "challenge") {
        throw fail(`rule ${index}: "unauthenticated" must be "login" or "challenge"`);
      }
      if (rule.revocation !== undefined && rule.revocation !== "strict") {
        throw fail(`rule ${index}: "revocation" can only be "strict"`);
      }
      if (isPublic && rule.revocation !== undefined) {
        throw fail(`rule ${index} is public and cannot have strict revocation`);
      }
      if (isPublic && (scopes.length > 0 || roles.length > 0)) {
        throw fail(`rule ${index} is public and cannot require scopes or roles`);
      }
      return Object.freeze({
        path,
        ...(methods.length > 0 ? { methods: Object.freeze(methods) } : {}),
        public: isPublic,
        scopes: Object.freeze(scopes),
        roles: Object.freeze(roles),
        ...(unauthenticated !== undefined ? { unauthenticated: unauthenticated as UnauthenticatedAnswer } : {}),
        ...(rule.revocation === "strict" ? { revocation: "strict" as const } : {}),
      });
    }),
  );
}

const PUBLIC: RouteDecision = Object.freeze({ access: "public" });

/** A rule ready for matching: its path split up and its decision made, once per rule list. */
interface CompiledRule {
  readonly methods: readonly string[] | undefined;
  /** "*": every path. */
  readonly any: boolean;
  /** An exact path, or a prefix rule's base ("/api" for "/api/*"). */
  readonly base: string;
  /** A prefix rule's base with its slash ("/api/"); undefined for an exact path. */
  readonly below: string | undefined;
  readonly decision: RouteDecision;
}

const compiledLists = new WeakMap<readonly RouteRule[], readonly CompiledRule[]>();

function compile(rules: readonly RouteRule[]): readonly CompiledRule[] {
  let list = compiledLists.get(rules);
  if (list === undefined) {
    list = rules.map((rule): CompiledRule => {
      const prefix = rule.path !== "*" && rule.path.endsWith("/*");
      return {
        methods: rule.methods,
        any: rule.path === "*",
        base: prefix ? rule.path.slice(0, -2) : rule.path,
        below: prefix ? rule.path.slice(0, -1) : undefined,
        decision: rule.public
          ? PUBLIC
          : Object.freeze({
              access: "protected",
              scopes: rule.scopes ?? [],
              roles: rule.roles ?? [],
              ...(rule.unauthenticated !== undefined ? { unauthenticated: rule.unauthenticated } : {}),
              ...(rule.revocation === "strict" ? { strictRevocation: true as const } : {}),
            }),
      };
    });
    compiledLists.set(rules, list);
  }
  return list;
}

/**
 * Decide the policy for a request. `path` must be the URL's normalized pathname (the
 * WHATWG URL parser has already resolved dot segments), so "/public/../admin" cannot
 * slip past a prefix rule.
 */
export function decideRoute(rules: readonly RouteRule[], method: string, path: string): RouteDecision {
  for (const rule of compile(rules)) {
    if (rule.methods && !rule.methods.includes(method)) continue;
    const matches = rule.any || path === rule.base || (rule.below !== undefined && path.startsWith(rule.below));
    if (matches) return rule.decision;
  }
  return PROTECTED_DEFAULT;
}

export interface MissingGrants {
  readonly scopes: readonly string[];
  readonly roles: readonly string[];
}

const NOTHING_MISSING: MissingGrants = Object.freeze({ scopes: Object.freeze([]), roles: Object.freeze([]) });

/** What a protected route needs that the token lacks; empty when it may pass. */
export function missingGrants(
  decision: Extract<RouteDecision, { access: "protected" }>,
  granted: { scopes: ReadonlySet<string>; roles: ReadonlySet<string> },
): MissingGrants {
  if (decision.scopes.length === 0 && decision.roles.length === 0) return NOTHING_MISSING;
  return {
    scopes: decision.scopes.filter((scope) => !granted.scopes.has(scope)),
    roles: decision.roles.filter((role) => !granted.roles.has(role)),
  };
}
