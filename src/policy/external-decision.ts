/**
 * A rule's `decision`: ask another Worker of yours, through a service binding, whether a
 * request may pass (docs/policy.md, "An external decision"), as Cloudflare Access's
 * External Evaluation and Ory Oathkeeper's remote authorizer do. Parsed here, once, at
 * config time; asked per request by src/decision/.
 *
 * ```toml
 * { path = "/reports/*", decision = { service = "POLICY", timeout_ms = 300 } }
 * ```
 *
 * Whether the binding is there is checked with the env (config/bindings.ts), not here:
 * the rules are parsed from the settings alone.
 */
import { type KeyTable, unknownKey } from "../schema/known-keys";

/** One rule's external decision, as parsed. */
export interface ExternalDecision {
  /** The service binding asked (`[[services]] binding = "POLICY"`). */
  readonly service: string;
  /** How long the whole exchange may take before it counts as failed, in milliseconds. */
  readonly timeoutMs: number;
  /** The index of the rule in ROUTES, sent to the service and used in the cache key and the log. */
  readonly rule: number;
  /** The rule's path as written, sent to the service and named in the log. */
  readonly rulePath: string;
  /** In words, for `portcullis check` and `explain` (`asks service POLICY (timeout 500 ms)`). */
  readonly text: string;
}

/** The keys of a `decision` object, each with what it means (docs/policy.md lists the same). */
export const DECISION_KEYS: KeyTable = Object.freeze({
  service:
    'the service binding to ask, as declared in wrangler.toml ([[services]] binding = "POLICY"): letters, digits and "_"',
  timeout_ms:
    "how long the whole exchange may take, answer body included, in milliseconds: 50 to 5000, default 500. Later is no decision",
});

export const DEFAULT_DECISION_TIMEOUT_MS = 500;
export const MIN_DECISION_TIMEOUT_MS = 50;
export const MAX_DECISION_TIMEOUT_MS = 5000;

/** A name wrangler accepts for a binding: a JavaScript identifier of ASCII letters, digits and `_`. */
const BINDING_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/**
 * `decision` as written in rule `index`, or a thrown `fail(...)` whose message names the
 * rule (`rule 2 (/reports/*): decision.timeout_ms must be …`).
 */
export function parseDecision(
  raw: unknown,
  index: number,
  path: string,
  fail: (problem: string) => Error,
): ExternalDecision {
  const where = `rule ${index} (${path}): decision`;
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw fail(`${where} must be an object, e.g. { service = "POLICY", timeout_ms = 500 }`);
  }
  const object = raw as Record<string, unknown>;
  const unknown = unknownKey(object, DECISION_KEYS);
  if (unknown !== undefined) throw fail(`${where} ${unknown}`);
  const service = object.service;
  if (typeof service !== "string" || !BINDING_NAME.test(service)) {
    throw fail(`${where}.service must name a service binding (letters, digits and "_", e.g. "POLICY")`);
  }
  const timeout = object.timeout_ms ?? DEFAULT_DECISION_TIMEOUT_MS;
  if (
    typeof timeout !== "number" ||
    !Number.isInteger(timeout) ||
    timeout < MIN_DECISION_TIMEOUT_MS ||
    timeout > MAX_DECISION_TIMEOUT_MS
  ) {
    throw fail(
      `${where}.timeout_ms must be a whole number of milliseconds from ${MIN_DECISION_TIMEOUT_MS} to ${MAX_DECISION_TIMEOUT_MS}`,
    );
  }
  return Object.freeze({
    service,
    timeoutMs: timeout,
    rule: index,
    rulePath: path,
    text: `asks service ${service} (timeout ${timeout} ms)`,
  });
}
