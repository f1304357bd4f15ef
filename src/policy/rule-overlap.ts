/**
 * Rules that overlap. The first matching rule decides, so a rule that an earlier rule
 * matches for every method and every path it names can never decide anything: a dead
 * rule, almost always a rule in the wrong order (`/api/*` before `/api/admin/*`). Such a
 * configuration is refused (route-rules.ts). An earlier rule that matches only some of a
 * later rule's methods or paths is ordinary (the narrow rule first), and is reported as a
 * note by `portcullis check`.
 *
 * Compared on the rules' canonical match paths, as written: if the earlier rule matches
 * every path of the later one as written, it also does in lower case and without trailing
 * slashes, the other readings requests are judged by (route-policy.ts).
 */
import type { RouteRule } from "./route-rule";

/** A rule in messages: its path, and its methods when it has some ("/orders/* DELETE"). */
export function describe(rule: RouteRule | undefined): string {
  if (rule === undefined) return "?";
  const methods = rule.methods?.filter((method) => method !== "HEAD" || !rule.methods?.includes("GET"));
  return methods === undefined ? rule.path : `${rule.path} ${methods.join(",")}`;
}

function isAny(rule: RouteRule): boolean {
  return rule.path === "*" || rule.path === "/*";
}

function isPrefix(rule: RouteRule): boolean {
  return !isAny(rule) && rule.path.endsWith("/*");
}

/** Is `path` the prefix's base or below it ("/a" and "/a/b" for "/a", not "/ab")? */
function within(path: string, base: string): boolean {
  return path === base || path.startsWith(`${base}/`);
}

/** Does `earlier` match every path `later` names? */
function coversPaths(earlier: RouteRule, later: RouteRule): boolean {
  if (isAny(earlier)) return true;
  if (isAny(later)) return false;
  if (isPrefix(earlier)) return within(later.match, earlier.match);
  return !isPrefix(later) && later.match === earlier.match;
}

/** Does `earlier` match some path `later` names? */
function sharesPaths(earlier: RouteRule, later: RouteRule): boolean {
  if (isAny(earlier) || isAny(later)) return true;
  if (isPrefix(earlier) && isPrefix(later)) {
    return within(later.match, earlier.match) || within(earlier.match, later.match);
  }
  if (isPrefix(earlier)) return within(later.match, earlier.match);
  if (isPrefix(later)) return within(earlier.match, later.match);
  return earlier.match === later.match;
}

function coversMethods(earlier: RouteRule, later: RouteRule): boolean {
  if (earlier.methods === undefined) return true;
  return later.methods?.every((method) => earlier.methods?.includes(method)) ?? false;
}

/** The methods both rules apply to; undefined for "all of them". */
function sharedMethods(earlier: RouteRule, later: RouteRule): readonly string[] | undefined {
  if (earlier.methods === undefined) return later.methods;
  if (later.methods === undefined) return earlier.methods;
  return earlier.methods.filter((method) => later.methods?.includes(method));
}

/** The first dead rule, as [the earlier rule that hides it, the dead rule]; undefined when none is. */
export function deadRule(rules: readonly RouteRule[]): readonly [number, number] | undefined {
  for (const [later, rule] of rules.entries()) {
    for (let earlier = 0; earlier < later; earlier++) {
      const first = rules[earlier] as RouteRule;
      if (coversMethods(first, rule) && coversPaths(first, rule)) return [earlier, later];
    }
  }
  return undefined;
}

/** One note of `portcullis check`: where an earlier rule decides part of what a later one names. */
export interface OverlapNote {
  readonly earlier: number;
  readonly later: number;
  readonly text: string;
}

/** Every partial overlap: an earlier rule that decides some methods or paths of a later one. */
export function overlapNotes(rules: readonly RouteRule[]): OverlapNote[] {
  const notes: OverlapNote[] = [];
  for (const [later, rule] of rules.entries()) {
    for (let earlier = 0; earlier < later; earlier++) {
      const first = rules[earlier] as RouteRule;
      const methods = sharedMethods(first, rule);
      if ((methods !== undefined && methods.length === 0) || !sharesPaths(first, rule)) continue;
      const paths = coversPaths(first, rule) ? "every path" : `the paths of ${first.path}`;
      const which = methods === undefined ? "every method" : methods.join(", ");
      notes.push({
        earlier,
        later,
        text: `rule ${later} (${describe(rule)}): for ${which} on ${paths}, rule ${earlier} (${describe(first)}) decides first`,
      });
    }
  }
  return notes;
}
