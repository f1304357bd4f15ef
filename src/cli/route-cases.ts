/**
 * The file of cases `portcullis test-routes` runs, as `opa test` runs a policy's tests: a
 * JSON list of requests, who sends each, and what the gateway must answer.
 *
 * ```json
 * [
 *   { "name": "the health check is public", "request": "GET /health", "expect": "public" },
 *   { "name": "admins only", "request": "GET /api/admin/stats", "identity": { "scope": "read" }, "expect": 403 },
 *   { "request": "DELETE /api/orders/7", "identity": { "roles": ["clerk"] }, "expect": "allowed" }
 * ]
 * ```
 *
 * A case's keys are checked as strictly as a route rule's (schema/known-keys.ts).
 */
import type { RequestAnswer } from "../gateway/request-answer";
import type { RequestCf } from "../policy/route-condition";
import { type KeyTable, unknownKey } from "../schema/known-keys";
import { CliError } from "./output";

/** The keys of a case, each with what it means (docs/configuration.md shows them). */
export const ROUTE_CASE_KEYS: KeyTable = Object.freeze({
  name: "what the case shows, printed with its result (default: the request)",
  request: 'the method and the path (or absolute URL) as a client sends it: "GET /api/me?x=1"',
  headers: 'request headers, as an object: { "X-HTTP-Method-Override": "DELETE", "Sec-Fetch-Mode": "navigate" }',
  identity:
    'the claims of a valid token, as `--claims` takes them ({ "scope": "read write", "roles": ["clerk"] }); null or absent: no token',
  cf: 'request.cf for route conditions, as `--cf` takes it ({ "country": "DE", "asn": 13335 }); absent: none',
  expect:
    'a status the gateway answers (302, 400, 401, 403, 404, 405, 503; 200 means forwarded), or "public", "allowed", "refused", "endpoint"',
});

/** "public": forwarded, no token needed; "allowed": forwarded; "refused": the gateway answers a refusal itself; "endpoint": one of the gateway's own endpoints. */
export type Expectation = number | "public" | "allowed" | "refused" | "endpoint";

const WORDS: ReadonlySet<string> = new Set(["public", "allowed", "refused", "endpoint"]);

export interface RouteCase {
  readonly name: string;
  readonly method: string;
  readonly target: string;
  readonly headers: readonly string[];
  /** The claims of the token sent, or undefined for none. */
  readonly identity: Readonly<Record<string, unknown>> | undefined;
  /** `request.cf`, or undefined for none. */
  readonly cf: RequestCf | undefined;
  readonly expect: Expectation;
}

function parseCase(item: unknown, index: number): RouteCase {
  const fail = (problem: string) => new CliError("input", `case ${index}: ${problem}`);
  if (typeof item !== "object" || item === null || Array.isArray(item)) throw fail("must be an object");
  const raw = item as Record<string, unknown>;
  const unknown = unknownKey(raw, ROUTE_CASE_KEYS);
  if (unknown !== undefined) throw fail(unknown);
  const request = typeof raw.request === "string" ? /^\s*(\S+)\s+(\S+)\s*$/.exec(raw.request) : null;
  if (request === null) throw fail('needs "request": "METHOD /path"');
  const [, method = "", target = ""] = request;
  if (raw.name !== undefined && typeof raw.name !== "string") throw fail('"name" must be a string');
  const headers = raw.headers ?? {};
  if (typeof headers !== "object" || headers === null || Array.isArray(headers)) {
    throw fail('"headers" must be an object of header names and values');
  }
  const headerLines = Object.entries(headers).map(([name, value]) => {
    if (typeof value !== "string") throw fail(`header "${name}" must be a string`);
    return `${name}: ${value}`;
  });
  const identity = raw.identity ?? undefined;
  if (identity !== undefined && (typeof identity !== "object" || Array.isArray(identity))) {
    throw fail('"identity" must be an object of claims, or null for no token');
  }
  if (raw.cf !== undefined && (typeof raw.cf !== "object" || raw.cf === null || Array.isArray(raw.cf))) {
    throw fail('"cf" must be an object, as request.cf is');
  }
  const expect = raw.expect;
  const validExpectation =
    (typeof expect === "number" && Number.isInteger(expect) && expect >= 100 && expect <= 599) ||
    (typeof expect === "string" && WORDS.has(expect));
  if (!validExpectation) throw fail(`"expect" must be ${ROUTE_CASE_KEYS.expect}`);
  return {
    name: (raw.name as string | undefined) ?? `${method} ${target}`,
    method,
    target,
    headers: headerLines,
    identity: identity as Record<string, unknown> | undefined,
    cf: raw.cf as RequestCf | undefined,
    expect: expect as Expectation,
  };
}

/** The cases of a file's text; a mistake names the case and what is wrong. */
export function parseRouteCases(text: string): RouteCase[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new CliError("input", `not JSON: ${(error as Error).message}`, { cause: error });
  }
  if (!Array.isArray(parsed) || parsed.length === 0) throw new CliError("input", "must be a JSON list of cases");
  return parsed.map(parseCase);
}

/** Does the answer meet the expectation? */
export function meets(answer: RequestAnswer, expect: Expectation): boolean {
  switch (expect) {
    case "public":
      return answer.outcome === "forwarded" && answer.public;
    case "allowed":
      return answer.outcome === "forwarded";
    case "refused":
      return answer.outcome === "refused";
    case "endpoint":
      return answer.outcome === "endpoint";
    default:
      if (expect === 200) return answer.outcome === "forwarded";
      return answer.outcome === "refused" && answer.status === expect;
  }
}
