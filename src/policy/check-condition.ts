/**
 * Judges a route's conditions (route-condition.ts) against one request's facts: the
 * verified token's claims, the client address and `request.cf`. Pure and synchronous; the
 * Worker (gateway/gateway.ts) and `portcullis explain` (gateway/request-answer.ts) both
 * call `failedCondition`, so they cannot disagree.
 *
 * Missing or ill-typed facts never pass a positive condition: a claim that is absent, an
 * object where a string is expected, a client address that does not parse, no
 * `request.cf`: each makes its condition false (and so `not` of it true; docs/policy.md).
 */
import { inRange, parseIpAddress } from "./ip-range";
import type { ClaimTest, ClaimValue, Condition, ConditionFacts } from "./route-condition";

/** The condition that failed, and how the refusal is coded. */
export interface FailedCondition {
  readonly condition: Condition;
  readonly code: "insufficient_scope" | "access_denied";
}

/**
 * The first of `conditions` that does not hold, or undefined when all do. For `all`, the
 * failing member is named; for `any` and `not`, the combinator itself.
 */
export function failedCondition(conditions: readonly Condition[], facts: ConditionFacts): FailedCondition | undefined {
  for (const condition of conditions) {
    const failed = firstFailure(condition, facts);
    if (failed !== undefined) {
      return { condition: failed, code: failed.about === "request" ? "access_denied" : "insufficient_scope" };
    }
  }
  return undefined;
}

function firstFailure(condition: Condition, facts: ConditionFacts): Condition | undefined {
  if (condition.kind === "all") {
    for (const member of condition.conditions) {
      const failed = firstFailure(member, facts);
      if (failed !== undefined) return failed;
    }
    return undefined;
  }
  return holds(condition, facts) ? undefined : condition;
}

/** Whether one condition holds for these facts. */
export function holds(condition: Condition, facts: ConditionFacts): boolean {
  switch (condition.kind) {
    case "claim":
      return claimHolds(claimAt(facts.claims, condition.path), condition.test);
    case "email": {
      const email = verifiedEmail(facts.claims);
      return email !== undefined && condition.emails.includes(email);
    }
    case "email_domain": {
      const email = verifiedEmail(facts.claims);
      return email !== undefined && condition.domains.includes(email.slice(email.lastIndexOf("@") + 1));
    }
    case "groups": {
      const own = Object.hasOwn(facts.claims, "groups") ? facts.claims.groups : ownClaim(facts.claims, "roles");
      return condition.groups.some((group) => own === group || (Array.isArray(own) && own.includes(group)));
    }
    case "ip": {
      const address = facts.clientIp === undefined ? undefined : parseIpAddress(facts.clientIp);
      return address !== undefined && condition.ranges.some((range) => inRange(address, range));
    }
    case "country": {
      const country = facts.cf?.country;
      return typeof country === "string" && condition.countries.includes(country);
    }
    case "asn": {
      const asn = facts.cf?.asn;
      return typeof asn === "number" && condition.asns.includes(asn);
    }
    case "client_certificate": {
      const auth = facts.cf?.tlsClientAuth;
      return (
        typeof auth === "object" && auth !== null && (auth as { certVerified?: unknown }).certVerified === "SUCCESS"
      );
    }
    case "all":
      return condition.conditions.every((member) => holds(member, facts));
    case "any":
      return condition.conditions.some((member) => holds(member, facts));
    case "not":
      return !holds(condition.condition, facts);
  }
}

/** An own member only: `constructor` or `__proto__` in a path never reaches a prototype. */
function ownClaim(object: unknown, name: string): unknown {
  if (typeof object !== "object" || object === null || Array.isArray(object)) return undefined;
  return Object.hasOwn(object, name) ? (object as Record<string, unknown>)[name] : undefined;
}

function claimAt(claims: Readonly<Record<string, unknown>>, path: readonly string[]): unknown {
  let value: unknown = claims;
  for (const name of path) {
    value = ownClaim(value, name);
    if (value === undefined) return undefined;
  }
  return value;
}

function isClaimValue(value: unknown): value is ClaimValue {
  return typeof value === "string" || typeof value === "number" || typeof value === "boolean";
}

/** Equal as JSON values of the same type: "1" is not 1, true is not "true". */
function claimHolds(claim: unknown, test: ClaimTest): boolean {
  if (test.op === "exists") return (claim !== undefined && claim !== null) === test.exists;
  // A scalar claim is read as a list of one; anything else (an object, null) holds nothing.
  const held: readonly unknown[] | undefined = Array.isArray(claim) ? claim : isClaimValue(claim) ? [claim] : undefined;
  if (held === undefined) return false;
  switch (test.op) {
    case "equals":
      return held.includes(test.value);
    case "any_of":
      return test.values.some((value) => held.includes(value));
    case "all_of":
      return test.values.every((value) => held.includes(value));
  }
}

/**
 * The token's `email`, in lower case, when it may be relied on: a string, and
 * `email_verified` true if the token has that claim at all.
 */
function verifiedEmail(claims: Readonly<Record<string, unknown>>): string | undefined {
  const email = ownClaim(claims, "email");
  if (typeof email !== "string" || !email.includes("@")) return undefined;
  if (Object.hasOwn(claims, "email_verified") && claims.email_verified !== true) return undefined;
  return email.toLowerCase();
}

/**
 * Which facts a condition reads that `facts` lacks ("request.cf", "CF-Connecting-IP"), so
 * `portcullis explain` can say a refusal came from a fact it was not given.
 */
export function missingFacts(condition: Condition, facts: ConditionFacts): string[] {
  const missing = new Set<string>();
  const visit = (node: Condition): void => {
    if (node.kind === "all" || node.kind === "any") node.conditions.forEach(visit);
    else if (node.kind === "not") visit(node.condition);
    else if (node.kind === "ip" && facts.clientIp === undefined) missing.add("CF-Connecting-IP");
    else if ((node.kind === "country" || node.kind === "asn" || node.kind === "client_certificate") && !facts.cf) {
      missing.add("request.cf");
    }
  };
  visit(condition);
  return [...missing];
}
