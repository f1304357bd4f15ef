/**
 * `require` in ROUTES: refused with the rule's name at config time, carried into the route
 * decision, and combined over every reading of a path (all the matched rules' conditions
 * must hold); and the answer `portcullis explain` gives for it (gateway/request-answer.ts).
 */
import { describe, expect, it } from "vitest";
import { type AnswerOptions, answerFor, type RequestIdentity } from "../../src/gateway/request-answer";
import { explainRoute } from "../../src/policy/route-explain";
import { decideRoute, parseRouteRules, strictest } from "../../src/policy/route-policy";
import { readClaims } from "../../src/tokens/access-token-claims";

const fail = (problem: string) => new Error(problem);
const parse = (raw: unknown) => parseRouteRules(raw, fail);

const OPS = { all: [{ email_domain: ["example.com"] }, { ip: ["203.0.113.0/24"] }] };
const rules = parse([
  { path: "/docs", require: { claim: "tenant", equals: "acme" } },
  { path: "/docs/*", require: { groups: ["readers"] } },
  { path: "/ops/*", scopes: ["ops"], require: OPS },
  { path: "/geo/*", require: { country: ["DE"] } },
  { path: "/public/*", public: true },
]);

describe("parseRouteRules with require", () => {
  it("names the rule and the place in its condition", () => {
    expect(() => parse([{ path: "/a/*", require: { all: [{ ip: ["10.0.0.0/8"] }, { ip: ["10.0.0.1/8"] }] } }])).toThrow(
      'rule 0 (/a/*): require.all[1].ip: "10.0.0.1/8" has bits set after its /8 prefix',
    );
    expect(() => parse([{ path: "/a", public: true, require: { groups: ["x"] } }])).toThrow(
      'rule 0 is public and cannot have "require"',
    );
    expect(() => parse([{ path: "/a", requires: { groups: ["x"] } }])).toThrow(
      'rule 0 (/a) has "requires"; did you mean "require"?',
    );
  });

  it("carries the condition into the decision, and none for rules without one", () => {
    const ops = decideRoute(rules, "GET", ["/ops/x"]);
    expect(ops).toMatchObject({ access: "protected", scopes: ["ops"] });
    expect(ops.access === "protected" && ops.conditions?.map((condition) => condition.text)).toEqual([
      "all(email_domain in [example.com]; ip in [203.0.113.0/24])",
    ]);
    expect(decideRoute(rules, "GET", ["/other"])).toEqual({ access: "protected", scopes: [], roles: [] });
  });

  it("requires the conditions of every rule a reading of the path matched", () => {
    // "/docs/" is "/docs/*" as written and "/docs" without its trailing slash.
    const decision = decideRoute(rules, "GET", ["/docs/"]);
    expect(decision.access === "protected" && decision.conditions?.map((condition) => condition.text)).toEqual([
      "groups any of [readers]",
      'claim tenant equals "acme"',
    ]);
  });

  it("strictest keeps one copy of a condition two decisions share", () => {
    const ops = decideRoute(rules, "GET", ["/ops/x"]);
    expect(strictest(ops, ops)).toBe(ops);
    expect(strictest(ops, decideRoute(rules, "GET", ["/ops/y"]))).toBe(ops);
    expect(strictest(decideRoute(rules, "GET", ["/other"]), ops)).toBe(ops);
  });
});

describe("the answer explain gives", () => {
  const routed = (path: string) => ({ stage: "routed" as const, explanation: explainRoute(rules, "GET", [path]) });
  const token = (claims: Record<string, unknown>): RequestIdentity => {
    const read = readClaims({ iss: "https://gateway.test", sub: "alice", iat: 1, exp: 2, ...claims });
    if (read === undefined) throw new Error("claims do not read");
    return { kind: "valid", claims: read };
  };
  const options = (extra: Partial<AnswerOptions> = {}): AnswerOptions => ({
    oidc: undefined,
    navigation: false,
    underAuth: false,
    ...extra,
  });
  const staff = token({ scope: "ops", email: "a@example.com", email_verified: true });

  it("forwards when the conditions hold, from the claims and the CF-Connecting-IP given", () => {
    const answer = answerFor(routed("/ops/x"), staff, options({ clientIp: "203.0.113.9" }));
    expect(answer).toMatchObject({ outcome: "forwarded", public: false });
    expect(answer.why).toBe("the token has what the route requires, and the route's conditions hold");
  });

  it("refuses 403 insufficient_scope for an identity condition, access_denied for one on the request", () => {
    const outsider = token({ scope: "ops", email: "a@example.org" });
    expect(answerFor(routed("/ops/x"), outsider, options({ clientIp: "203.0.113.9" }))).toMatchObject({
      status: 403,
      code: "insufficient_scope",
      requiredScopes: ["ops"],
      why: "the condition email_domain in [example.com] does not hold",
    });
    expect(answerFor(routed("/ops/x"), staff, options({ clientIp: "198.51.100.1" }))).toMatchObject({
      status: 403,
      code: "access_denied",
      why: "the condition ip in [203.0.113.0/24] does not hold",
    });
  });

  it("says when request.cf was not given", () => {
    expect(answerFor(routed("/geo/x"), staff, options())).toMatchObject({
      code: "access_denied",
      why: "the condition country in [DE] does not hold (no request.cf given)",
    });
    expect(answerFor(routed("/geo/x"), staff, options({ cf: { country: "DE" } }))).toMatchObject({
      outcome: "forwarded",
    });
  });

  it("asks for the scopes first: a token without them gets the scope refusal", () => {
    expect(answerFor(routed("/ops/x"), token({}), options())).toMatchObject({
      code: "insufficient_scope",
      why: "the token lacks scope ops",
    });
  });
});
