/**
 * `decision` in ROUTES: checked at config time with the rule named in every refusal, a
 * service that is not bound refused with the env, and carried into the route decision over
 * every reading of a path (every matched rule's decision must allow); and what
 * `portcullis check`, `explain` and `test-routes` say of a rule they cannot ask.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { answerSummary } from "../../src/cli/explain-text";
import { routeTable } from "../../src/cli/route-table";
import { checkBindings } from "../../src/config/bindings";
import type { GatewayConfig } from "../../src/config/config";
import type { ConfigEnv } from "../../src/config/env";
import { ConfigError } from "../../src/config/env-readers";
import { type AnswerOptions, answerFor, type RequestIdentity } from "../../src/gateway/request-answer";
import { DECISION_KEYS } from "../../src/policy/external-decision";
import { explainRoute } from "../../src/policy/route-explain";
import { decideRoute, parseRouteRules, strictest } from "../../src/policy/route-policy";
import { readClaims } from "../../src/tokens/access-token-claims";

const fail = (problem: string) => new Error(problem);
const parse = (raw: unknown) => parseRouteRules(raw, fail);

describe("parseRouteRules with decision", () => {
  it("reads the service and the timeout, 500 ms by default", () => {
    const [first, second] = parse([
      { path: "/reports/*", decision: { service: "POLICY" } },
      { path: "/admin/*", scopes: ["admin"], decision: { service: "ADMIN_POLICY", timeout_ms: 50 } },
    ]);
    expect(first?.decision).toEqual({
      service: "POLICY",
      timeoutMs: 500,
      rule: 0,
      rulePath: "/reports/*",
      text: "asks service POLICY (timeout 500 ms)",
    });
    expect(second?.decision).toMatchObject({ service: "ADMIN_POLICY", timeoutMs: 50, rule: 1 });
  });

  it.each([
    [{ service: "POLICY", timeoutms: 100 }, 'rule 0 (/a/*): decision has "timeoutms"; did you mean "timeout_ms"?'],
    [{ Service: "POLICY" }, 'rule 0 (/a/*): decision has "Service"; did you mean "service"?'],
    [
      { service: "POLICY", url: "https://x" },
      'rule 0 (/a/*): decision has "url", which is not one of "service", "timeout_ms"',
    ],
    [{}, "rule 0 (/a/*): decision.service must name a service binding"],
    [{ service: "" }, "rule 0 (/a/*): decision.service must name a service binding"],
    [{ service: "policy-worker" }, "rule 0 (/a/*): decision.service must name a service binding"],
    [{ service: "1POLICY" }, "rule 0 (/a/*): decision.service must name a service binding"],
    [{ service: ["POLICY"] }, "rule 0 (/a/*): decision.service must name a service binding"],
    [
      { service: "POLICY", timeout_ms: 49 },
      "rule 0 (/a/*): decision.timeout_ms must be a whole number of milliseconds from 50 to 5000",
    ],
    [{ service: "POLICY", timeout_ms: 5001 }, "rule 0 (/a/*): decision.timeout_ms must be"],
    [{ service: "POLICY", timeout_ms: 100.5 }, "rule 0 (/a/*): decision.timeout_ms must be"],
    [{ service: "POLICY", timeout_ms: "500" }, "rule 0 (/a/*): decision.timeout_ms must be"],
    ["POLICY", 'rule 0 (/a/*): decision must be an object, e.g. { service = "POLICY", timeout_ms = 500 }'],
    [["POLICY"], "rule 0 (/a/*): decision must be an object"],
    [null, "rule 0 (/a/*): decision must be an object"],
  ])("refuses %j, naming the rule", (decision, message) => {
    expect(() => parse([{ path: "/a/*", decision }])).toThrow(message);
  });

  it("names the rule by its index among others", () => {
    expect(() =>
      parse([
        { path: "/health", public: true },
        { path: "/b", decision: { service: "x-y" } },
      ]),
    ).toThrow("rule 1 (/b): decision.service must name a service binding");
  });

  it("refuses a decision on a public rule, and a near miss of the key", () => {
    expect(() => parse([{ path: "/a", public: true, decision: { service: "POLICY" } }])).toThrow(
      'rule 0 is public and cannot have a "decision"',
    );
    expect(() => parse([{ path: "/a", decisions: { service: "POLICY" } }])).toThrow(
      'rule 0 (/a) has "decisions"; did you mean "decision"?',
    );
  });
});

describe("the route decision", () => {
  const rules = parse([
    { path: "/admin", decision: { service: "EXACT" } },
    { path: "/admin/*", decision: { service: "PREFIX" } },
    { path: "/reports/*", require: { groups: ["readers"] } },
    { path: "/public/*", public: true },
  ]);
  const services = (path: string) => {
    const decision = decideRoute(rules, "GET", [path]);
    return decision.access === "protected" ? decision.decisions?.map((item) => item.service) : undefined;
  };

  it("carries the rule's decision, and none for rules without one", () => {
    expect(services("/admin/users")).toEqual(["PREFIX"]);
    expect(services("/reports/q")).toBeUndefined();
    expect(decideRoute(rules, "GET", ["/public/x"])).toEqual({ access: "public" });
  });

  it("asks every rule that decides a reading of the path: /Admin/ is /admin/* as written and /admin folded and trimmed", () => {
    expect(services("/Admin/")).toEqual(["PREFIX", "EXACT"]);
    expect(services("/ADMIN")).toEqual(["EXACT"]);
  });

  it("strictest keeps one copy of a decision two readings share, and the decisions of both otherwise", () => {
    const prefix = decideRoute(rules, "GET", ["/admin/a"]);
    expect(strictest(prefix, decideRoute(rules, "GET", ["/admin/b"]))).toBe(prefix);
    const other = decideRoute(rules, "GET", ["/elsewhere"]);
    expect(strictest(other, prefix)).toBe(prefix);
    const both = strictest(prefix, decideRoute(rules, "GET", ["/admin"]));
    expect(both.access === "protected" && both.decisions?.map((item) => item.service)).toEqual(["PREFIX", "EXACT"]);
  });
});

describe("the binding check", () => {
  const config = (routes: unknown) =>
    ({ routes: parse(routes), signingKeys: [], rateLimits: false, mode: "production" }) as unknown as GatewayConfig;
  const env = (bindings: Record<string, unknown>) =>
    ({ REVOKED: { get: () => undefined }, ...bindings }) as unknown as ConfigEnv;
  const check = (routes: unknown, bindings: Record<string, unknown>) =>
    checkBindings(env(bindings), config(routes), { onMissingRateLimits: () => undefined });

  it("passes a service bound as a service binding", () => {
    expect(() =>
      check([{ path: "/a/*", decision: { service: "POLICY" } }], { POLICY: { fetch: () => undefined } }),
    ).not.toThrow();
  });

  it("refuses a service that is not bound, naming the rule, and says what to declare", () => {
    let error: unknown;
    try {
      check(
        [
          { path: "/health", public: true },
          { path: "/a/*", decision: { service: "POLICY" } },
        ],
        {},
      );
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).setting).toBe("ROUTES");
    expect((error as ConfigError).detail).toBe(
      'ROUTES: rule 1 (/a/*): decision.service "POLICY" is not bound; add [[services]] binding = "POLICY" service = "<the Worker that decides>" to wrangler.toml (docs/policy.md)',
    );
  });

  it("refuses a binding of another kind under that name", () => {
    expect(() => check([{ path: "/a/*", decision: { service: "REVOKED" } }], {})).toThrow(
      'rule 0 (/a/*): decision.service "REVOKED" is bound, but not as a service binding',
    );
  });
});

describe("portcullis explain and test-routes", () => {
  const rules = parse([
    { path: "/reports", decision: { service: "AUDIT" } },
    { path: "/reports/*", scopes: ["reports"], decision: { service: "POLICY", timeout_ms: 300 } },
  ]);
  const identity = (scope: string): RequestIdentity => {
    const claims = readClaims({ iss: "https://gateway.test", sub: "alice", iat: 1, exp: 2, scope });
    if (claims === undefined) throw new Error("claims do not read");
    return { kind: "valid", claims };
  };
  const options: AnswerOptions = { oidc: undefined, navigation: false, underAuth: false };
  const answer = (path: string, scope: string) =>
    answerFor({ stage: "routed", explanation: explainRoute(rules, "GET", [path]) }, identity(scope), options);

  it("shows that a rule asks a service, in the route table", () => {
    expect(routeTable(rules)[2]).toContain("scopes reports; asks service POLICY (timeout 300 ms)");
  });

  it("cannot ask the service: forwards, assuming it allows, and says so", async () => {
    const forwarded = answer("/reports/q", "reports");
    expect(forwarded).toMatchObject({ outcome: "forwarded", public: false, assumes: ["POLICY"] });
    expect(forwarded.why).toContain(
      "rule 1 asks service POLICY (timeout 300 ms), which is not asked here: assumed to allow (a denial is 403 access_denied, no answer 503)",
    );
    const config = { realm: "portcullis" } as GatewayConfig;
    expect(await answerSummary(forwarded, config)).toBe("forwarded, if service POLICY allows (not asked)");
    expect(await answerSummary(answer("/reports/", "reports"), config)).toBe(
      "forwarded, if service POLICY and service AUDIT allow (not asked)",
    );
  });

  it("refuses what the cheaper checks refuse before any service would be asked", () => {
    expect(answer("/reports/q", "read")).toMatchObject({ outcome: "refused", code: "insufficient_scope" });
  });
});

it("docs/policy.md describes a decision's keys exactly as they are checked", () => {
  const docs = readFileSync(path.resolve(import.meta.dirname, "../../docs/policy.md"), "utf8");
  const section = docs.slice(docs.indexOf("\n## An external decision\n"));
  const rows = section
    .split("\n")
    .filter((line) => /^\| `(service|timeout_ms)` \| /.test(line))
    .map((line) => {
      const [, key, meaning] = /^\| `([a-z_]+)` \| (.*) \|$/.exec(line) ?? [];
      return [key, meaning];
    });
  expect(rows).toEqual(Object.entries(DECISION_KEYS));
});
