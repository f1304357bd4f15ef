/**
 * The bindings a Worker running Portcullis must declare, checked with the settings on the
 * first request: a missing or mistyped one is a ConfigError naming it and what it is for
 * (503 problem+json, one `config_invalid` log line), never a TypeError deep in a request.
 * CHANGELOG.md says which version added which binding and migration.
 *
 * Only their shape is checked here (a KV namespace has `get`, a Durable Object namespace
 * `idFromName`, a rate limiter `limit`): config/ sits below the classes that type them
 * (gateway/env.ts).
 */
import type { GatewayConfig } from "./config";
import type { ConfigEnv } from "./env";
import { ConfigError } from "./env-readers";

type Kind = "kv" | "durable-object" | "rate-limit";

interface Binding {
  readonly kind: Kind;
  /** What it is for, in the error. */
  readonly purpose: string;
  /** What wrangler.toml needs for it. */
  readonly declare: string;
}

const DURABLE_OBJECT = (name: string, className: string): string =>
  `[[durable_objects.bindings]] name = "${name}", class_name = "${className}", a [[migrations]] entry with new_sqlite_classes = ["${className}"], and export { ${className} } from your Worker`;

export const BINDINGS = {
  REVOKED: {
    kind: "kv",
    purpose: "the revocation snapshot every request is checked against",
    declare: '[[kv_namespaces]] binding = "REVOKED"',
  },
  SESSIONS: {
    kind: "durable-object",
    purpose: "sessions and refresh-token rotation",
    declare: DURABLE_OBJECT("SESSIONS", "SessionObject"),
  },
  REVOCATIONS: {
    kind: "durable-object",
    purpose: "the revocation ledger that logout, refresh and revocation record into",
    declare: DURABLE_OBJECT("REVOCATIONS", "RevocationLedger"),
  },
  SUBJECT_SESSIONS: {
    kind: "durable-object",
    purpose: "each user's list of sessions (GET /auth/sessions, MAX_SESSIONS_PER_USER)",
    declare: DURABLE_OBJECT("SUBJECT_SESSIONS", "SubjectSessions"),
  },
  IDP_LOGOUT_INDEX: {
    kind: "durable-object",
    purpose: "OIDC back-channel logout",
    declare: DURABLE_OBJECT("IDP_LOGOUT_INDEX", "IdpLogoutIndex"),
  },
  SERVICE_CLIENTS: {
    kind: "durable-object",
    purpose: "service clients for machines (POST /auth/token, docs/identities.md)",
    declare: DURABLE_OBJECT("SERVICE_CLIENTS", "ServiceClients"),
  },
  LOGIN_IP_LIMIT: { kind: "rate-limit", purpose: "login attempts per client address", declare: "[[ratelimits]]" },
  LOGIN_ACCOUNT_LIMIT: { kind: "rate-limit", purpose: "login attempts per account", declare: "[[ratelimits]]" },
  REFRESH_IP_LIMIT: { kind: "rate-limit", purpose: "refreshes per client address", declare: "[[ratelimits]]" },
  REFRESH_SESSION_LIMIT: { kind: "rate-limit", purpose: "explicit refreshes per session", declare: "[[ratelimits]]" },
} as const satisfies Record<string, Binding>;

export type BindingName = keyof typeof BINDINGS;

export const RATE_LIMIT_BINDINGS = [
  "LOGIN_IP_LIMIT",
  "LOGIN_ACCOUNT_LIMIT",
  "REFRESH_IP_LIMIT",
  "REFRESH_SESSION_LIMIT",
] as const satisfies readonly BindingName[];

const METHOD_OF: Record<Kind, string> = { kv: "get", "durable-object": "idFromName", "rate-limit": "limit" };
const KIND_NAME: Record<Kind, string> = {
  kv: "a KV namespace",
  "durable-object": "a Durable Object namespace",
  "rate-limit": "a rate-limiting binding",
};

function isShaped(value: unknown, kind: Kind): boolean {
  return typeof (value as Record<string, unknown> | null | undefined)?.[METHOD_OF[kind]] === "function";
}

function missing(name: BindingName, present: boolean): ConfigError {
  const binding: Binding = BINDINGS[name];
  const what = present ? `is not ${KIND_NAME[binding.kind]}` : "binding is missing";
  return new ConfigError(
    name,
    `${what}; it is needed for ${binding.purpose}. Declare ${binding.declare} (CHANGELOG.md)`,
  );
}

/**
 * Which bindings this config needs: the revocation list always; sessions when it issues
 * tokens; the per-subject index when MAX_SESSIONS_PER_USER is set above 0 (its default
 * applies only where the index is bound, so leaving it unset asks for nothing).
 */
function required(config: GatewayConfig, env: ConfigEnv): BindingName[] {
  const names: BindingName[] = ["REVOKED"];
  if (config.signingKeys.length > 0) names.push("SESSIONS", "REVOCATIONS");
  if (config.oidc !== undefined) names.push("IDP_LOGOUT_INDEX");
  const capSet = env.MAX_SESSIONS_PER_USER !== undefined && String(env.MAX_SESSIONS_PER_USER).trim() !== "";
  if (capSet && config.maxSessionsPerUser > 0) names.push("SUBJECT_SESSIONS");
  return names;
}

export interface BindingCheck {
  /** A missing rate limit that is allowed (development): reported, not refused. */
  readonly onMissingRateLimits: (names: readonly string[]) => void;
}

/**
 * Throws a ConfigError for the first required binding that is missing or of the wrong
 * kind, and for one that is present but of the wrong kind even when optional. Rate limits:
 * required in production where tokens are issued, unless RATE_LIMITS is off; in
 * development, missing ones are handed to `onMissingRateLimits`.
 */
export function checkBindings(env: ConfigEnv, config: GatewayConfig, check: BindingCheck): void {
  const bound = env as unknown as Record<string, unknown>;
  for (const name of required(config, env)) {
    if (!isShaped(bound[name], BINDINGS[name].kind)) throw missing(name, bound[name] !== undefined);
  }
  if (config.serviceTokenHeader !== undefined && bound.SERVICE_CLIENTS === undefined) {
    // Named after the setting that asks for it: without it, the header would be refused on every request.
    throw new ConfigError(
      "SERVICE_TOKEN_HEADER",
      `needs the SERVICE_CLIENTS binding, where service clients live; declare ${BINDINGS.SERVICE_CLIENTS.declare}`,
    );
  }
  for (const name of Object.keys(BINDINGS) as BindingName[]) {
    const value = bound[name];
    if (value !== undefined && !isShaped(value, BINDINGS[name].kind)) throw missing(name, true);
  }
  checkDecisionServices(bound, config);
  if (!config.rateLimits || config.signingKeys.length === 0) return;
  const absent = RATE_LIMIT_BINDINGS.filter((name) => bound[name] === undefined);
  if (absent.length === 0) return;
  if (config.mode === "production") {
    const [first] = absent as [BindingName];
    throw new ConfigError(
      first,
      `rate-limiting bindings are missing (${absent.join(", ")}); ${first} limits ${BINDINGS[first].purpose}. Declare the [[ratelimits]] of docs/configuration.md, or set RATE_LIMITS = false to run without limits`,
    );
  }
  check.onMissingRateLimits(absent);
}

/**
 * Every service a rule's `decision` names must be bound as a service binding (something
 * with `fetch`): a rule whose service is missing would otherwise refuse every request it
 * decides, which is a configuration mistake to name at start, not an outage to find later.
 */
function checkDecisionServices(bound: Record<string, unknown>, config: GatewayConfig): void {
  for (const rule of config.routes) {
    const decision = rule.decision;
    if (decision === undefined) continue;
    const value = bound[decision.service];
    if (typeof (value as { fetch?: unknown } | null | undefined)?.fetch === "function") continue;
    const what = value === undefined ? "is not bound" : "is bound, but not as a service binding";
    throw new ConfigError(
      "ROUTES",
      `rule ${decision.rule} (${decision.rulePath}): decision.service "${decision.service}" ${what}; add [[services]] binding = "${decision.service}" service = "<the Worker that decides>" to wrangler.toml (docs/policy.md)`,
    );
  }
}
