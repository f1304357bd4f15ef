/**
 * docs/configuration.md cannot drift from what the gateway checks: every setting it reads
 * (SETTING_NAMES) has a row in a table there and every row names a setting it reads, and
 * the table of a route rule's keys is the one the rules are checked against
 * (ROUTE_RULE_KEYS), key for key and word for word, and so is the table of a trusted
 * issuer's keys (TRUSTED_ISSUER_KEYS) and of its `introspection` (INTROSPECTION_KEYS).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { BINDINGS } from "../../src/config/bindings";
import { SETTING_NAMES } from "../../src/config/env";
import { INTROSPECTION_KEYS } from "../../src/config/parse-introspection";
import { GITHUB_PROVIDER_KEYS, OIDC_PROVIDER_KEYS } from "../../src/config/parse-login-provider";
import { TRUSTED_ISSUER_KEYS } from "../../src/config/parse-trusted-issuers";
import { ROUTE_RULE_KEYS } from "../../src/policy/route-rules";

const docs = readFileSync(path.resolve(import.meta.dirname, "../../docs/configuration.md"), "utf8");

/** The rows of the tables under a heading: each row's cells, as written. */
function rowsUnder(heading: string): string[][] {
  const start = docs.indexOf(`\n${heading}\n`);
  if (start === -1) throw new Error(`no "${heading}" in docs/configuration.md`);
  const next = docs.indexOf("\n## ", start + heading.length + 2);
  const section = docs.slice(start, next === -1 ? undefined : next);
  return section
    .split("\n")
    .filter((line) => line.startsWith("| ") && !line.startsWith("| ---"))
    .map((line) =>
      line
        .slice(2, -2)
        .split(/(?<!\\)\s\|\s/)
        .map((cell) => cell.trim()),
    )
    .filter((cells) => cells[0] !== "setting" && cells[0] !== "secret" && cells[0] !== "key" && cells[0] !== "binding");
}

/** The names a row's first cell gives in backticks. */
function namesOf(cell: string | undefined): string[] {
  return [...(cell ?? "").matchAll(/`([A-Za-z_]+)`/g)].map((match) => match[1] as string);
}

describe("docs/configuration.md", () => {
  const documented = [
    ...rowsUnder("## Vars"),
    ...rowsUnder("## Secrets"),
    ...rowsUnder("## Login through an OpenID Connect provider"),
  ].flatMap((cells) => namesOf(cells[0]));

  it("has a row for every setting the gateway reads", () => {
    const missing = SETTING_NAMES.filter((name) => !documented.includes(name));
    expect(missing).toEqual([]);
  });

  it("documents no setting the gateway does not read", () => {
    const unknown = documented.filter((name) => !(SETTING_NAMES as readonly string[]).includes(name));
    expect(unknown).toEqual([]);
  });

  it("has a row for every binding the gateway checks", () => {
    const bindings = rowsUnder("## Bindings").flatMap((cells) => namesOf(cells[0]));
    expect(Object.keys(BINDINGS).filter((name) => !bindings.includes(name))).toEqual([]);
  });

  it("describes a route rule's keys exactly as the rules are checked", () => {
    const rows = rowsUnder("## Route rules").map((cells) => [namesOf(cells[0])[0], cells[1]]);
    expect(rows).toEqual(Object.entries(ROUTE_RULE_KEYS));
  });

  it("describes a login provider's keys exactly as they are checked", () => {
    const unescaped = (cells: string[]) => cells.map((cell) => cell.replace(/\\\|/g, "|"));
    const keysOf = (heading: string) =>
      rowsUnder(heading)
        .map((cells) => unescaped(cells))
        .map(([key, meaning]) => [key?.replace(/`/g, ""), meaning]);
    expect(keysOf("## Login providers")).toEqual(Object.entries(OIDC_PROVIDER_KEYS));
    expect(keysOf("## GitHub as a login provider")).toEqual(Object.entries(GITHUB_PROVIDER_KEYS));
  });

  it("describes a trusted issuer's keys exactly as they are checked", () => {
    const rows = rowsUnder("## Trusted issuers").map((cells) => [namesOf(cells[0])[0], cells[1]]);
    expect(rows).toEqual(Object.entries(TRUSTED_ISSUER_KEYS));
  });

  it("describes a trusted issuer's introspection keys exactly as they are checked", () => {
    const rows = rowsUnder("## Token introspection").map((cells) => [namesOf(cells[0])[0], cells[1]]);
    expect(rows).toEqual(Object.entries(INTROSPECTION_KEYS));
  });
});
