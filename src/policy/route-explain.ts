/**
 * Why a request gets the rule it gets, for `portcullis explain`: every way its path was
 * read, each rule tried in order and why it did or did not match, and the decision those
 * readings join into. Built on the Worker's own matching (route-matching.ts) and joined by
 * the Worker's own `strictest`; the CLI's test asserts that the two always agree.
 */
import {
  type CompiledRule,
  compile,
  forEachReading,
  type Matcher,
  PROTECTED_DEFAULT,
  READING_NAMES,
  type RouteDecision,
} from "./route-matching";
import { type DecideOptions, strictest } from "./route-policy";
import type { RouteRule } from "./route-rule";

/** One rule tried against one reading: whether it matched, and if not, why not. */
export interface RuleTried {
  readonly rule: number;
  readonly matched: boolean;
  readonly why: string;
}

/** One reading of the path, for one method: the rules tried and what it decided. */
export interface ReadingTried {
  readonly method: string;
  /** The path as this reading reads it. */
  readonly path: string;
  /** How it was read: "as written", "in lower case", … */
  readonly how: string;
  readonly tried: readonly RuleTried[];
  /** The rule that decided this reading; undefined for none (protected by default). */
  readonly deciding: number | undefined;
  readonly decision: RouteDecision;
}

export interface RouteExplanation {
  readonly readings: readonly ReadingTried[];
  /** The strictest of the readings' decisions: what the Worker applies. */
  readonly decision: RouteDecision;
}

function pathMatches(matcher: Matcher, path: string): boolean {
  return matcher.any || path === matcher.base || (matcher.below !== undefined && path.startsWith(matcher.below));
}

function tryRules(rules: readonly CompiledRule[], method: string, path: string, reading: number): ReadingTried {
  const tried: RuleTried[] = [];
  for (const [index, rule] of rules.entries()) {
    if (rule.methods && !rule.methods.includes(method)) {
      tried.push({
        rule: index,
        matched: false,
        why: `${method || "this method"} is not one of ${rule.methods.join(", ")}`,
      });
      continue;
    }
    const matcher = rule.matchers[reading] as Matcher;
    if (!pathMatches(matcher, path)) {
      const names = matcher.below === undefined ? `is not ${matcher.base}` : `is not ${matcher.base} or below it`;
      tried.push({ rule: index, matched: false, why: `the path ${names}` });
      continue;
    }
    tried.push({ rule: index, matched: true, why: matcher.any ? "it matches every path" : "the path matches" });
    return { method, path, how: READING_NAMES[reading] as string, tried, deciding: index, decision: rule.decision };
  }
  return {
    method,
    path,
    how: READING_NAMES[reading] as string,
    tried,
    deciding: undefined,
    decision: PROTECTED_DEFAULT,
  };
}

/**
 * The explanation of `decideRoute(rules, method, readings, options)`: the same readings and
 * methods tried, in the same order, and the same decision.
 */
export function explainRoute(
  rules: readonly RouteRule[],
  method: string,
  readings: readonly string[],
  options: DecideOptions = {},
): RouteExplanation {
  const compiled = compile(rules);
  const methods = method === "POST" && options.postMayOverride ? compiled.overrideMethods : [method];
  const tried: ReadingTried[] = [];
  for (const judged of methods) {
    for (const path of readings) {
      forEachReading(compiled, path, (read, reading) => tried.push(tryRules(compiled.rules, judged, read, reading)));
    }
  }
  const decision = tried.map((reading) => reading.decision).reduce(strictest, tried[0]?.decision ?? PROTECTED_DEFAULT);
  return { readings: tried, decision };
}
