/**
 * A mistaken rule stops the gateway instead of running weaker (issue: configuration that
 * means what it says). Each row of the table, and each class of mistake: an unknown
 * key (with the nearest known one), a capitalised key, a key of another rule kind, a wrong
 * type, and a rule an earlier one hides entirely (by prefix, by "*", by method coverage).
 * Partial overlaps are legitimate, and are notes.
 */
import { describe, expect, it } from "vitest";
import { parseRouteRules, ROUTE_RULE_KEYS } from "../../src/policy/route-rules";
import { overlapNotes } from "../../src/policy/rule-overlap";

const fail = (problem: string) => new Error(problem);
const parse = (rules: unknown) => parseRouteRules(rules, fail);

describe("refused: keys the rules do not have", () => {
  it.each([
    [[{ path: "/api/admin/*", scope: ["admin"] }], 'rule 0 (/api/admin/*) has "scope"; did you mean "scopes"?'],
    [[{ path: "/api/admin/*", role: ["operator"] }], 'rule 0 (/api/admin/*) has "role"; did you mean "roles"?'],
    [[{ path: "/api/admin/*", Scopes: ["admin"] }], 'rule 0 (/api/admin/*) has "Scopes"; did you mean "scopes"?'],
    [
      [{ path: "/api/admin/*", method: ["GET"], public: true }],
      'rule 0 (/api/admin/*) has "method"; did you mean "methods"?',
    ],
    [[{ path: "/x", claims: { email: "a" } }], 'rule 0 (/x) has "claims", which is not one of "path", "methods"'],
    [[{ path: "/x", PATH: "/y" }], 'rule 0 (/x) has "PATH"; did you mean "path"?'],
  ])("%j", (rules, message) => {
    expect(() => parse(rules)).toThrow(message);
  });

  it("refuses a wrong type that used to mean false", () => {
    expect(() => parse([{ path: "/x", public: "true" }])).toThrow('"public" must be true or false');
  });
});

describe("refused: a rule that can never decide anything", () => {
  it.each([
    ["a prefix before a narrower prefix", [{ path: "/api/*" }, { path: "/api/admin/*", scopes: ["admin"] }], 1, 0],
    ["a prefix before an exact path below it", [{ path: "/api/*", public: true }, { path: "/api/admin" }], 1, 0],
    ['"*" first', [{ path: "*" }, { path: "/api/admin/*", scopes: ["admin"] }], 1, 0],
    ["the same path twice", [{ path: "/a" }, { path: "/b" }, { path: "/a", public: true }], 2, 0],
    [
      "every method of it taken first",
      [
        { path: "/orders/*", methods: ["GET", "DELETE"] },
        { path: "/orders/1", methods: ["DELETE"], roles: ["clerk"] },
      ],
      1,
      0,
    ],
  ])("%s", (_name, rules, dead, by) => {
    expect(() => parse(rules)).toThrow(new RegExp(`^rule ${dead} \\(.*\\) can never decide anything: rule ${by} \\(`));
  });
});

describe("allowed, with a note: an earlier rule decides part of a later one", () => {
  it("the narrow rule first, the broad one after", () => {
    const rules = parse([{ path: "/api/admin/*", scopes: ["admin"] }, { path: "/api/*" }]);
    expect(overlapNotes(rules).map((note) => note.text)).toEqual([
      "rule 1 (/api/*): for every method on the paths of /api/admin/*, rule 0 (/api/admin/*) decides first",
    ]);
  });

  it("an earlier rule for some methods only", () => {
    const rules = parse([
      { path: "/orders/*", methods: ["GET"], public: true },
      { path: "/orders/*", roles: ["clerk"] },
    ]);
    expect(overlapNotes(rules).map((note) => note.text)).toEqual([
      "rule 1 (/orders/*): for GET, HEAD on every path, rule 0 (/orders/* GET) decides first",
    ]);
  });

  it("none where rules do not meet", () => {
    expect(overlapNotes(parse([{ path: "/a/*" }, { path: "/b/*" }, { path: "/ab" }]))).toEqual([]);
  });
});

it("describes every key it accepts", () => {
  expect(Object.keys(ROUTE_RULE_KEYS)).toEqual([
    "path",
    "methods",
    "public",
    "scopes",
    "roles",
    "unauthenticated",
    "revocation",
    "dpop",
    "require",
    "max_auth_age",
    "acr",
    "amr",
    "decision",
    "assertion_audience",
    "issuers",
  ]);
});
