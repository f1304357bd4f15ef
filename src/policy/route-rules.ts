/**
 * The ROUTES setting: which routes are public and which scopes or roles a protected route
 * needs, checked once at config time.
 *
 * ```toml
 * ROUTES = [
 *   { path = "/health", public = true },
 *   { path = "/public/*", methods = ["GET"], public = true },
 *   { path = "/admin/*", scopes = ["admin"] },
 *   { path = "/orders/*", methods = ["POST", "DELETE"], roles = ["clerk"] },
 *   { path = "/api/*", unauthenticated = "challenge" },   # never redirect to the OIDC login
 *   { path = "/payments/*", revocation = "strict" },      # ask the session's object every time
 *   { path = "/transfers/*", dpop = "required" },         # only DPoP-bound tokens, with their proof
 *   { path = "/ops/*", require = { all = [               # claims and origin (docs/policy.md)
 *       { email_domain = ["example.com"] }, { ip = ["203.0.113.0/24"] } ] } },
 *   { path = "/billing/*", max_auth_age = 900, acr = ["mfa"] },  # step-up (docs/policy.md)
 *   { path = "/deploy/*", issuers = ["github-actions"] },  # only that trusted issuer's tokens (TRUSTED_ISSUERS)
 * ]
 * ```
 *
 * A rule's path is read as a request path is (canonical/canonical-path.ts): `/%61dmin/*`
 * and `/admin/*` are the same rule. A rule that lists GET also covers HEAD, which every
 * common framework answers with its GET handler. How rules are matched is route-policy.ts.
 */
import { canonicalPath, PATH_REFUSALS } from "../canonical/canonical-path";
import { isAudienceName } from "../schema/audience-name";
import { type KeyTable, nearestName, unknownKey } from "../schema/known-keys";
import {
  AUTHENTICATION_KEYS,
  type AuthenticationRequirement,
  parseAuthenticationRequirement,
} from "./authentication-requirement";
import { parseDecision } from "./external-decision";
import { ConditionError, parseCondition } from "./parse-condition";
import type { Condition } from "./route-condition";
import { OWN_TOKENS, type RouteRule, type UnauthenticatedAnswer } from "./route-rule";
import { deadRule, describe } from "./rule-overlap";

export { OWN_TOKENS, type RouteRule, type UnauthenticatedAnswer } from "./route-rule";

const METHOD = /^[A-Z]+$/;
const NAME = /^[\x21-\x7e]+$/;

function stringList(value: unknown, what: string, pattern: RegExp, fail: (problem: string) => Error): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((item) => typeof item !== "string" || !pattern.test(item))) {
    throw fail(`${what} must be a list of ${what === "methods" ? "upper-case methods" : "names without spaces"}`);
  }
  return value as string[];
}

/** The decoded path a rule matches, as a request's path is decoded; "" for "*" and "/*". */
function matchOf(path: string, index: number, fail: (problem: string) => Error): string {
  if (path === "*" || path === "/*") return "";
  const base = path.endsWith("/*") ? path.slice(0, -2) : path;
  if (/[?#\\]|(?:^|\/)\.\.?(?:\/|$)/.test(base)) {
    throw fail(`rule ${index} (${path}): a rule's path has no "?", "#", "\\" or dot segments`);
  }
  // Parsed as the runtime parses a request's URL (spaces and non-ASCII encoded), then canonical.
  const canonical = canonicalPath(new URL(base, "http://rule.invalid").pathname);
  if (!canonical.ok || canonical.readings.length !== 1) {
    const why = canonical.ok ? "it has more than one reading" : PATH_REFUSALS[canonical.refusal];
    throw fail(`rule ${index} (${path}): no request path reads as this one (${why})`);
  }
  return canonical.readings[0] as string;
}

/**
 * The keys of a rule, each with what it means: the one description that the check, its
 * messages and docs/configuration.md's table of rule keys read.
 */
export const ROUTE_RULE_KEYS: KeyTable = Object.freeze({
  path: 'an exact path ("/health"), a prefix ("/api/*": "/api" and everything below it) or "*" (every path)',
  methods: 'the upper-case methods the rule applies to (all when absent); a rule listing "GET" also covers "HEAD"',
  public: "true: no token needed",
  scopes: "every one of these must be in the token's `scope`",
  roles: "every one of these must be in the token's `roles`",
  unauthenticated: '"login" (always redirect to the OIDC login) or "challenge" (always the RFC 6750 401)',
  revocation: '"strict": ask the session\'s Durable Object on every request',
  dpop: '"required": only a DPoP-bound token, with a proof by its key, passes (docs/dpop.md)',
  require:
    "a condition on the token's claims, email, groups, the client's address, country, network or certificate, combined with all / any / not (docs/policy.md)",
  ...AUTHENTICATION_KEYS,
  decision:
    '{ service = "POLICY", timeout_ms = 500 }: ask that service binding to allow or deny, after every other check (docs/policy.md)',
  assertion_audience:
    "the `aud` of the signed upstream assertion on this route, instead of UPSTREAM_ASSERTION_AUDIENCE (docs/upstream-assertion.md)",
  issuers:
    'whose tokens the route accepts: ids of TRUSTED_ISSUERS, and "self" for the gateway\'s own; absent: ["self"], so another issuer\'s token passes only where a rule names it (docs/identities.md)',
});

export interface RouteRulesOptions {
  /** The ids of TRUSTED_ISSUERS, which `issuers` may name besides "self". */
  readonly issuers?: readonly string[];
}

/** Validate ROUTES once, at config time: every key known, and every rule able to decide something. */
export function parseRouteRules(
  raw: unknown,
  fail: (problem: string) => Error,
  options: RouteRulesOptions = {},
): readonly RouteRule[] {
  if (raw === undefined) return Object.freeze([]);
  if (!Array.isArray(raw)) throw fail("must be a list of route rules");
  const known = [OWN_TOKENS, ...(options.issuers ?? [])];
  const rules = Object.freeze(raw.map((item: unknown, index) => parseRule(item, index, fail, known)));
  const dead = deadRule(rules);
  if (dead !== undefined) {
    const [earlier, later] = dead;
    throw fail(
      `rule ${later} (${describe(rules[later])}) can never decide anything: rule ${earlier} (${describe(rules[earlier])}) comes first and matches every method and path it names; put the narrower rule first, or remove it`,
    );
  }
  return rules;
}

function parseRule(
  item: unknown,
  index: number,
  fail: (problem: string) => Error,
  known: readonly string[],
): RouteRule {
  const rule = item as Record<string, unknown>;
  if (typeof rule !== "object" || rule === null || Array.isArray(rule)) throw fail(`rule ${index} must be an object`);
  const path = rule.path;
  if (typeof path !== "string" || !(path === "*" || path.startsWith("/"))) {
    throw fail(`rule ${index} needs a "path" starting with "/" (or "*")`);
  }
  const unknown = unknownKey(rule, ROUTE_RULE_KEYS);
  if (unknown !== undefined) throw fail(`rule ${index} (${path}) ${unknown}`);
  if (rule.public !== undefined && typeof rule.public !== "boolean") {
    throw fail(`rule ${index} (${path}): "public" must be true or false`);
  }
  if (path.includes("*") && !(path === "*" || (path.endsWith("/*") && path.indexOf("*") === path.length - 1))) {
    throw fail(`rule ${index}: "*" is allowed only as the last segment ("/api/*")`);
  }
  const match = matchOf(path, index, fail);
  const methods = stringList(rule.methods, "methods", METHOD, fail);
  // Frameworks answer HEAD with the GET handler: what guards GET guards HEAD.
  if (methods.includes("GET") && !methods.includes("HEAD")) methods.push("HEAD");
  const scopes = stringList(rule.scopes, "scopes", NAME, fail);
  const roles = stringList(rule.roles, "roles", NAME, fail);
  const isPublic = rule.public === true;
  const unauthenticated = rule.unauthenticated;
  if (unauthenticated !== undefined && unauthenticated !== "login" && unauthenticated !== "challenge") {
    throw fail(`rule ${index}: "unauthenticated" must be "login" or "challenge"`);
  }
  if (rule.revocation !== undefined && rule.revocation !== "strict") {
    throw fail(`rule ${index}: "revocation" can only be "strict"`);
  }
  if (isPublic && rule.revocation !== undefined) {
    throw fail(`rule ${index} is public and cannot have strict revocation`);
  }
  if (rule.dpop !== undefined && rule.dpop !== "required") throw fail(`rule ${index}: "dpop" can only be "required"`);
  if (isPublic && rule.dpop !== undefined) throw fail(`rule ${index} is public and cannot require DPoP`);
  if (isPublic && (scopes.length > 0 || roles.length > 0)) {
    throw fail(`rule ${index} is public and cannot require scopes or roles`);
  }
  if (isPublic && rule.require !== undefined) throw fail(`rule ${index} is public and cannot have "require"`);
  const condition = rule.require === undefined ? undefined : conditionOf(rule.require, index, path, fail);
  const authentication = authenticationOf(rule, index, path, fail);
  if (isPublic && authentication !== undefined) {
    throw fail(`rule ${index} is public and cannot require a recent or stronger sign-in`);
  }
  if (isPublic && rule.decision !== undefined) throw fail(`rule ${index} is public and cannot have a "decision"`);
  const decision = rule.decision === undefined ? undefined : parseDecision(rule.decision, index, path, fail);
  const audience = rule.assertion_audience;
  if (audience !== undefined && (typeof audience !== "string" || !isAudienceName(audience))) {
    throw fail(`rule ${index} (${path}): "assertion_audience" must be a name without spaces or quotes`);
  }
  if (isPublic && audience !== undefined) {
    throw fail(`rule ${index} (${path}) is public, and a public route gets no assertion: remove "assertion_audience"`);
  }
  if (isPublic && rule.issuers !== undefined) throw fail(`rule ${index} is public and cannot name "issuers"`);
  const issuers = rule.issuers === undefined ? undefined : issuersOf(rule.issuers, index, path, known, fail);
  return Object.freeze({
    path,
    match,
    ...(methods.length > 0 ? { methods: Object.freeze(methods) } : {}),
    public: isPublic,
    scopes: Object.freeze(scopes),
    roles: Object.freeze(roles),
    ...(unauthenticated !== undefined ? { unauthenticated: unauthenticated as UnauthenticatedAnswer } : {}),
    ...(rule.revocation === "strict" ? { revocation: "strict" as const } : {}),
    ...(rule.dpop === "required" ? { dpop: "required" as const } : {}),
    ...(condition !== undefined ? { require: condition } : {}),
    ...(authentication !== undefined ? { authentication } : {}),
    ...(decision !== undefined ? { decision } : {}),
    ...(audience !== undefined ? { assertionAudience: audience } : {}),
    ...(issuers !== undefined ? { issuers } : {}),
  });
}

/** A rule's `issuers`: a non-empty list of known ids ("self" or a TRUSTED_ISSUERS id), each once. */
function issuersOf(
  raw: unknown,
  index: number,
  path: string,
  known: readonly string[],
  fail: (problem: string) => Error,
): readonly string[] {
  if (!Array.isArray(raw) || raw.length === 0 || raw.some((id) => typeof id !== "string")) {
    throw fail(`rule ${index} (${path}): "issuers" must be a list of issuer ids ("self", or ids of TRUSTED_ISSUERS)`);
  }
  for (const id of raw as string[]) {
    if (known.includes(id)) continue;
    const near = nearestName(id, known);
    throw fail(
      `rule ${index} (${path}): "issuers" names "${id}", which is not "self" or an id of TRUSTED_ISSUERS${near === undefined ? "" : `; did you mean "${near}"?`}`,
    );
  }
  return Object.freeze([...new Set(raw as string[])]);
}

function authenticationOf(
  rule: Readonly<Record<string, unknown>>,
  index: number,
  path: string,
  fail: (problem: string) => Error,
): AuthenticationRequirement | undefined {
  try {
    return parseAuthenticationRequirement(rule);
  } catch (error) {
    throw fail(`rule ${index} (${path}): ${(error as Error).message}`);
  }
}

function conditionOf(raw: unknown, index: number, path: string, fail: (problem: string) => Error): Condition {
  try {
    return parseCondition(raw);
  } catch (error) {
    if (error instanceof ConditionError) throw fail(`rule ${index} (${path}): ${error.message}`);
    throw error;
  }
}
