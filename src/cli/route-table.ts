/**
 * The effective route table in words, for `portcullis check` and `explain`: each rule in
 * the order it is tried, its methods and what it requires, read from the decisions the
 * Worker's matching compiles (policy/route-matching.ts), then the row every request no
 * rule matches falls to.
 */
import { compile, PROTECTED_DEFAULT, type RouteDecision } from "../policy/route-matching";
import type { RouteRule } from "../policy/route-rule";
import { describe, overlapNotes } from "../policy/rule-overlap";

/** What a decision requires: "public", "any valid token", or its scopes, roles and options. */
export function requirementOf(decision: RouteDecision): string {
  if (decision.access === "public") return "public";
  const parts: string[] = [];
  if (decision.scopes.length > 0) parts.push(`scopes ${decision.scopes.join(" ")}`);
  if (decision.roles.length > 0) parts.push(`roles ${decision.roles.join(" ")}`);
  if (parts.length === 0) parts.push(decision.issuers === undefined ? "any valid token" : "a valid token");
  if (decision.issuers !== undefined) {
    parts.push(
      decision.issuers.length === 0
        ? "no issuer's tokens (its rules accept none in common)"
        : `issuers ${decision.issuers.join(" ")}`,
    );
  }
  if (decision.strictRevocation) parts.push("strict revocation");
  if (decision.dpop) parts.push("a DPoP-bound token");
  for (const condition of decision.conditions ?? []) parts.push(`require ${condition.text}`);
  for (const requirement of decision.authentication ?? []) parts.push(`sign-in ${requirement.text}`);
  for (const asked of decision.decisions ?? []) parts.push(asked.text);
  if (decision.audienceConflict) parts.push("assertion audiences that differ between readings (refused, 400)");
  else if (decision.assertionAudience !== undefined) parts.push(`assertion audience ${decision.assertionAudience}`);
  if (decision.unauthenticated !== undefined) parts.push(`unauthenticated: ${decision.unauthenticated}`);
  return parts.join("; ");
}

/** A rule in one line: "rule 2 (/orders/* DELETE: roles clerk)". */
export function ruleText(rules: readonly RouteRule[], index: number | undefined): string {
  if (index === undefined) return `no rule (${requirementOf(PROTECTED_DEFAULT)}, the default)`;
  const decision = compile(rules).rules[index]?.decision ?? PROTECTED_DEFAULT;
  return `rule ${index} (${describe(rules[index])}: ${requirementOf(decision)})`;
}

function methodsOf(rule: RouteRule): string {
  const methods = rule.methods?.filter((method) => method !== "HEAD" || !rule.methods?.includes("GET"));
  if (methods === undefined) return "any";
  return rule.methods?.includes("GET") ? `${methods.join(", ")} (and HEAD)` : methods.join(", ");
}

/** Lines of a table whose columns are padded to their widest cell. */
export function columns(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0))) ?? [];
  return rows.map((row) =>
    row
      .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join("  ")
      .trimEnd(),
  );
}

/** The route table, in the order the rules are tried, and the row for everything else. */
export function routeTable(rules: readonly RouteRule[]): string[] {
  const compiled = compile(rules).rules;
  const rows: string[][] = [["#", "path", "methods", "requires"]];
  for (const [index, rule] of rules.entries()) {
    const decision = compiled[index]?.decision ?? PROTECTED_DEFAULT;
    rows.push([String(index), rule.path, methodsOf(rule), requirementOf(decision)]);
  }
  rows.push(["-", "(no rule matches)", "any", requirementOf(PROTECTED_DEFAULT)]);
  return columns(rows);
}

/** Where an earlier rule decides part of what a later one names (legitimate, worth knowing). */
export function overlapLines(rules: readonly RouteRule[]): string[] {
  return overlapNotes(rules).map((note) => note.text);
}
