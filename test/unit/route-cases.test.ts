/**
 * The case files of `portcullis test-routes` (src/cli/route-cases.ts): read strictly, each
 * mistake named with its case, every expectation meaning what docs/configuration.md says,
 * and that document's table of a case's keys the very one the cases are checked against.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { meets, parseRouteCases, ROUTE_CASE_KEYS } from "../../src/cli/route-cases";
import type { RequestAnswer } from "../../src/gateway/request-answer";

const FORWARDED: RequestAnswer = { outcome: "forwarded", public: false, why: "" };
const PUBLIC: RequestAnswer = { outcome: "forwarded", public: true, why: "" };
const FORBIDDEN: RequestAnswer = { outcome: "refused", status: 403, code: "insufficient_scope", why: "" };
const ENDPOINT: RequestAnswer = { outcome: "endpoint", why: "" };

describe("parseRouteCases", () => {
  it("reads a case's request, headers, identity and expectation", () => {
    const [read] = parseRouteCases(
      JSON.stringify([
        { request: "post /orders/1?x=1", headers: { "X-HTTP-Method-Override": "DELETE" }, identity: null, expect: 400 },
      ]),
    );
    expect(read).toEqual({
      name: "post /orders/1?x=1",
      method: "post",
      target: "/orders/1?x=1",
      headers: ["X-HTTP-Method-Override: DELETE"],
      identity: undefined,
      expect: 400,
    });
  });

  it.each([
    [[{ request: "GET /", expects: 200 }], 'case 0: has "expects"; did you mean "expect"?'],
    [[{ request: "GET /", expect: 200, Identity: {} }], 'case 0: has "Identity"; did you mean "identity"?'],
    [[{ expect: 200 }], 'case 0: needs "request": "METHOD /path"'],
    [[{ request: "GET /", expect: "ok" }], 'case 0: "expect" must be a status the gateway answers'],
    [
      [
        { request: "GET /", expect: 200 },
        { request: "GET /", identity: "admin", expect: 200 },
      ],
      "case 1:",
    ],
    [{ request: "GET /" }, "must be a JSON list of cases"],
  ])("refuses %j, naming what is wrong", (cases, message) => {
    expect(() => parseRouteCases(JSON.stringify(cases))).toThrow(message);
  });
});

describe("meets", () => {
  it.each([
    [PUBLIC, "public", true],
    [FORWARDED, "public", false],
    [FORWARDED, "allowed", true],
    [FORWARDED, 200, true],
    [FORBIDDEN, "refused", true],
    [FORBIDDEN, 403, true],
    [FORBIDDEN, 401, false],
    [FORBIDDEN, "allowed", false],
    [ENDPOINT, "endpoint", true],
    [ENDPOINT, 200, false],
  ] as const)("%j meets %j: %s", (answer, expectation, met) => {
    expect(meets(answer, expectation)).toBe(met);
  });
});

describe("docs/configuration.md", () => {
  it("describes a case's keys exactly as the cases are checked", () => {
    const docs = readFileSync(path.resolve(import.meta.dirname, "../../docs/configuration.md"), "utf8");
    const section = docs.slice(docs.indexOf("\n## Checking your configuration\n"));
    const table = section.slice(section.indexOf("| key | meaning |"));
    const lines = table.split("\n");
    const rows = lines
      .slice(
        2,
        lines.findIndex((line) => !line.startsWith("|")),
      )
      .map((line) => {
        const [key, meaning] = line.slice(2, -2).split(" | ");
        return [key?.replaceAll("`", ""), meaning];
      });
    expect(rows).toEqual(Object.entries(ROUTE_CASE_KEYS));
  });
});
