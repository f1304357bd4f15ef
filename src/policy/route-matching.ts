/**
 * Matching requests against the rules, as route-policy.ts decides and route-explain.ts
 * explains: the rules compiled once per list, each under the four ways of reading a path
 * (as written, without trailing slashes, in lower case, both), and which of those ways a
 * path reading must be tried in. One engine for the Worker and for `portcullis explain`.
 */
import type { AuthenticationRequirement } from "./authentication-requirement";
import type { ExternalDecision } from "./external-decision";
import type { Condition } from "./route-condition";
import { OWN_TOKENS, type RouteRule, type UnauthenticatedAnswer } from "./route-rule";

export type RouteDecision =
  | { readonly access: "public" }
  | {
      readonly access: "protected";
      readonly scopes: readonly string[];
      readonly roles: readonly string[];
      readonly unauthenticated?: UnauthenticatedAnswer;
      readonly strictRevocation?: true;
      /** Only a DPoP-bound token passes. */
      readonly dpop?: true;
      /** Every one of these must hold (the `require` of each rule that decided a reading). */
      readonly conditions?: readonly Condition[];
      /** Step-up: every one of these must be met (each rule's `max_auth_age` / `acr` / `amr`). */
      readonly authentication?: readonly AuthenticationRequirement[];
      /** Every one of these services must allow (the `decision` of each rule that decided a reading). */
      readonly decisions?: readonly ExternalDecision[];
      /** The upstream assertion's `aud` (a rule's `assertion_audience`); absent: UPSTREAM_ASSERTION_AUDIENCE. */
      readonly assertionAudience?: string;
      /**
       * Readings of the path were decided by rules naming different assertion audiences: which
       * service the upstream routes it to is unknown, so the request is refused (400).
       */
      readonly audienceConflict?: true;
      /**
       * Whose tokens pass: "self" (the gateway's own) and ids of TRUSTED_ISSUERS. Absent:
       * "self" alone. Possibly empty, where two readings' rules accept no issuer in common.
       */
      readonly issuers?: readonly string[];
    };

export type ProtectedDecision = Extract<RouteDecision, { access: "protected" }>;

export const PUBLIC: RouteDecision = Object.freeze({ access: "public" });
export const PROTECTED_DEFAULT: RouteDecision = Object.freeze({ access: "protected", scopes: [], roles: [] });

/** A rule's path under one way of reading: exact, prefix (`below`) or any. */
export interface Matcher {
  readonly any: boolean;
  /** An exact path, or a prefix rule's base ("/api" for "/api/*"). */
  readonly base: string;
  /** A prefix rule's base with its slash ("/api/"); undefined for an exact path. */
  readonly below: string | undefined;
}

/** The four ways of reading a path: as written, trimmed, folded, folded and trimmed. */
export const AS_WRITTEN = 0;
export const TRIMMED = 1;
export const FOLDED = 2;
export const FOLDED_TRIMMED = 3;

/** How each way of reading reads, in words (portcullis explain). */
export const READING_NAMES = [
  "as written",
  "without trailing slashes",
  "in lower case",
  "in lower case, without trailing slashes",
] as const;

export interface CompiledRule {
  readonly methods: readonly string[] | undefined;
  readonly matchers: readonly [Matcher, Matcher, Matcher, Matcher];
  readonly decision: RouteDecision;
}

export interface CompiledRules {
  readonly rules: readonly CompiledRule[];
  /** Some rule path changes when trimmed / when folded: those readings must be tried even for a path that does not. */
  readonly trimChangesRules: boolean;
  readonly foldChangesRules: boolean;
  /** What a POST could become: every method a rule names, POST, and one no rule names (""). */
  readonly overrideMethods: readonly string[];
}

/** Without trailing slashes ("/" stays "/"). */
export function trim(path: string): string {
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

export function compile(rules: readonly RouteRule[]): CompiledRules {
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
              ...(rule.dpop === "required" ? { dpop: true as const } : {}),
              ...(rule.require !== undefined ? { conditions: Object.freeze([rule.require]) } : {}),
              ...(rule.authentication !== undefined ? { authentication: Object.freeze([rule.authentication]) } : {}),
              ...(rule.decision !== undefined ? { decisions: Object.freeze([rule.decision]) } : {}),
              ...(rule.assertionAudience !== undefined ? { assertionAudience: rule.assertionAudience } : {}),
              ...(rule.issuers !== undefined && !ownTokensOnly(rule.issuers) ? { issuers: rule.issuers } : {}),
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

/** ["self"]: what a rule without `issuers` accepts. */
export function ownTokensOnly(issuers: readonly string[]): boolean {
  return issuers.length === 1 && issuers[0] === OWN_TOKENS;
}

/**
 * Does a route whose decision has `issuers` accept a token of `issuer` (a TRUSTED_ISSUERS
 * id; undefined for the gateway's own)? Absent `issuers`: the gateway's own tokens only.
 */
export function acceptsIssuer(issuers: readonly string[] | undefined, issuer: string | undefined): boolean {
  if (issuers === undefined) return issuer === undefined;
  return issuers.includes(issuer ?? OWN_TOKENS);
}

export function firstMatch(
  rules: readonly CompiledRule[],
  method: string,
  path: string,
  reading: number,
): RouteDecision {
  for (const rule of rules) {
    if (rule.methods && !rule.methods.includes(method)) continue;
    const { any, base, below } = rule.matchers[reading] as Matcher;
    if (any || path === base || (below !== undefined && path.startsWith(below))) return rule.decision;
  }
  return PROTECTED_DEFAULT;
}

// A character that lower-casing could change: an ASCII capital, or anything beyond ASCII.
export const FOLDABLE = /[A-Z\u0080-\uffff]/;

/**
 * Calls `visit` with each way a path reading must be tried in: as written always; the
 * others where they read the path or the rules differently. The Worker's decision and
 * `portcullis explain` both go through here, so they try the same readings.
 */
export function forEachReading(
  compiled: CompiledRules,
  path: string,
  visit: (read: string, reading: number) => void,
): void {
  const { trimChangesRules, foldChangesRules } = compiled;
  visit(path, AS_WRITTEN);
  const trimmed = trim(path);
  if (trimmed !== path || trimChangesRules) visit(trimmed, TRIMMED);
  const folded = FOLDABLE.test(path) ? path.toLowerCase() : path;
  if (folded !== path || foldChangesRules) visit(folded, FOLDED);
  const foldedTrimmed = trim(folded);
  if (foldedTrimmed !== trimmed || foldChangesRules || trimChangesRules) visit(foldedTrimmed, FOLDED_TRIMMED);
}
