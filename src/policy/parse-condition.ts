/**
 * Reads a rule's `require` into a Condition (route-condition.ts), once, at config time:
 * every key known, one kind per object, values of the right type, CIDR ranges exact,
 * combinators at most MAX_CONDITION_DEPTH deep. A mistake is refused with the place it is
 * at (`rule 3 (/admin/*): require.all[1].ip: "10.0.0.1/8" has bits set after its /8 prefix`).
 */
import { unknownKey } from "../schema/known-keys";
import { parseIpRange } from "./ip-range";
import {
  type ClaimTest,
  type ClaimValue,
  CONDITION_KEYS,
  type Condition,
  MAX_CONDITION_DEPTH,
} from "./route-condition";

const KINDS = [
  "claim",
  "email",
  "email_domain",
  "groups",
  "ip",
  "country",
  "asn",
  "client_certificate",
  "all",
  "any",
  "not",
] as const;
const CLAIM_TESTS = ["equals", "any_of", "all_of", "exists"] as const;
const MAX_LIST = 1000;
const CLAIM_NAME = /^[^\s.]+$/;
const DOMAIN = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/;
const EMAIL = /^[^\s@]+@[^\s@]+$/;
const COUNTRY = /^[A-Z0-9]{2}$/;

/** Thrown with a message that names where in `require` the problem is; the caller adds the rule. */
export class ConditionError extends Error {
  override readonly name = "ConditionError";
}

type Raw = Record<string, unknown>;

/** `require` as written, or a ConditionError. `where` is the path to it ("require"). */
export function parseCondition(raw: unknown, where = "require", depth = 0): Condition {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new ConditionError(`${where} must be a condition object, e.g. { claim = "org.id", equals = "acme" }`);
  }
  const object = raw as Raw;
  const unknown = unknownKey(object, CONDITION_KEYS);
  if (unknown !== undefined) throw new ConditionError(`${where} ${unknown}`);
  const kinds = KINDS.filter((kind) => Object.hasOwn(object, kind));
  const tests = CLAIM_TESTS.filter((test) => Object.hasOwn(object, test));
  if (kinds.length !== 1) {
    throw new ConditionError(
      `${where} must have exactly one of ${KINDS.map((kind) => `"${kind}"`).join(", ")}${kinds.length > 1 ? ` (it has ${kinds.join(", ")})` : ""}`,
    );
  }
  const kind = kinds[0] as (typeof KINDS)[number];
  if (kind !== "claim" && tests.length > 0) throw new ConditionError(`${where}: "${tests[0]}" goes with "claim"`);
  const value = object[kind];
  const at = `${where}.${kind}`;
  switch (kind) {
    case "claim":
      return claimCondition(value, object, tests, where);
    case "email": {
      const emails = strings(value, at, (item) => EMAIL.test(item), "email addresses").map(lower);
      return leaf({ kind, emails }, `email in [${emails.join(", ")}]`, "identity");
    }
    case "email_domain": {
      const domains = strings(value, at, (item) => DOMAIN.test(item.toLowerCase()), "domain names").map(lower);
      return leaf({ kind, domains }, `email_domain in [${domains.join(", ")}]`, "identity");
    }
    case "groups": {
      const groups = strings(value, at, (item) => item.length > 0, "group names");
      return leaf({ kind, groups }, `groups any of [${groups.join(", ")}]`, "identity");
    }
    case "ip": {
      const ranges = strings(value, at, () => true, "CIDR ranges").map((text) => {
        const range = parseIpRange(text);
        if (typeof range === "string") throw new ConditionError(`${at}: ${range}`);
        return range;
      });
      return leaf({ kind, ranges }, `ip in [${ranges.map((range) => range.text).join(", ")}]`, "request");
    }
    case "country": {
      const countries = strings(value, at, (item) => COUNTRY.test(item), 'upper-case two-letter country codes ("DE")');
      return leaf({ kind, countries }, `country in [${countries.join(", ")}]`, "request");
    }
    case "asn": {
      if (
        !isList(value) ||
        !value.every((item) => typeof item === "number" && Number.isInteger(item) && item >= 0 && item <= 4294967295)
      ) {
        throw new ConditionError(`${at} must be a non-empty list of AS numbers, e.g. [13335]`);
      }
      return leaf({ kind, asns: Object.freeze([...value]) as number[] }, `asn in [${value.join(", ")}]`, "request");
    }
    case "client_certificate":
      if (value !== "verified") throw new ConditionError(`${at} can only be "verified"`);
      return leaf({ kind }, "client_certificate verified", "request");
    case "all":
    case "any": {
      if (depth >= MAX_CONDITION_DEPTH) throw tooDeep(at);
      if (!isList(value)) throw new ConditionError(`${at} must be a non-empty list of conditions`);
      const conditions = Object.freeze(value.map((item, index) => parseCondition(item, `${at}[${index}]`, depth + 1)));
      const text = `${kind}(${conditions.map((condition) => condition.text).join("; ")})`;
      return leaf({ kind, conditions }, text, aboutOf(conditions));
    }
    case "not": {
      if (depth >= MAX_CONDITION_DEPTH) throw tooDeep(at);
      const condition = parseCondition(value, at, depth + 1);
      return leaf({ kind, condition }, `not(${condition.text})`, condition.about);
    }
  }
}

function tooDeep(at: string): ConditionError {
  return new ConditionError(`${at}: all / any / not nest at most ${MAX_CONDITION_DEPTH} deep`);
}

function leaf<T extends object>(fields: T, text: string, about: Condition["about"]): Condition {
  return Object.freeze({ ...fields, text, about }) as unknown as Condition;
}

function aboutOf(conditions: readonly Condition[]): Condition["about"] {
  const first = conditions[0]?.about ?? "identity";
  return conditions.every((condition) => condition.about === first) ? first : "both";
}

function lower(text: string): string {
  return text.toLowerCase();
}

function isList(value: unknown): value is unknown[] {
  return Array.isArray(value) && value.length > 0 && value.length <= MAX_LIST;
}

function strings(value: unknown, at: string, valid: (item: string) => boolean, what: string): string[] {
  if (!isList(value) || !value.every((item) => typeof item === "string" && valid(item))) {
    throw new ConditionError(`${at} must be a non-empty list of ${what}`);
  }
  return Object.freeze([...value]) as string[];
}

function isClaimValue(value: unknown): value is ClaimValue {
  return (
    typeof value === "string" || typeof value === "boolean" || (typeof value === "number" && Number.isFinite(value))
  );
}

function claimCondition(path: unknown, object: Raw, tests: readonly string[], where: string): Condition {
  const at = `${where}.claim`;
  const segments = typeof path === "string" ? path.split(".") : path;
  if (
    !Array.isArray(segments) ||
    segments.length === 0 ||
    segments.length > 8 ||
    !segments.every((segment) => typeof segment === "string" && segment.length > 0) ||
    (typeof path === "string" && !segments.every((segment) => CLAIM_NAME.test(segment as string)))
  ) {
    throw new ConditionError(
      `${at} must be a dotted claim path ("org.id") or a list of member names (["https://example.com/org", "id"])`,
    );
  }
  if (typeof path === "string" && path.includes("://")) {
    // A namespaced claim (Auth0's "https://example.com/roles") has dots in its name.
    throw new ConditionError(`${at}: "${path}" would be split at its dots; give it as a list: ["${path}"]`);
  }
  if (tests.length !== 1) {
    throw new ConditionError(`${where} needs exactly one of "equals", "any_of", "all_of", "exists" with "claim"`);
  }
  const op = tests[0] as ClaimTest["op"];
  const value = object[op];
  let test: ClaimTest;
  let words: string;
  if (op === "equals") {
    if (!isClaimValue(value)) throw new ConditionError(`${where}.equals must be a string, number or boolean`);
    test = { op, value };
    words = `equals ${JSON.stringify(value)}`;
  } else if (op === "exists") {
    if (typeof value !== "boolean") throw new ConditionError(`${where}.exists must be true or false`);
    test = { op, exists: value };
    words = value ? "exists" : "is absent";
  } else {
    if (!isList(value) || !value.every(isClaimValue)) {
      throw new ConditionError(`${where}.${op} must be a non-empty list of strings, numbers or booleans`);
    }
    test = { op, values: Object.freeze([...value]) };
    words = `${op} ${JSON.stringify(value)}`;
  }
  const name = typeof path === "string" ? path : JSON.stringify(path);
  return leaf(
    { kind: "claim", path: Object.freeze([...(segments as string[])]), test },
    `claim ${name} ${words}`,
    "identity",
  );
}
