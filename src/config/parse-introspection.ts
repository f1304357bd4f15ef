/**
 * A trusted issuer's `introspection`: RFC 7662 introspection of the opaque access tokens
 * its provider issues (docs/identities.md, "Opaque tokens: introspection").
 *
 * ```toml
 * { id = "okta", issuer = "https://example.okta.com/oauth2/default", audience = "api://default",
 *   introspection = { url = "https://example.okta.com/oauth2/default/v1/introspect",
 *                     client_id = "0oa1portcullis", client_secret_env = "INTROSPECTION_SECRET_OKTA" } }
 * ```
 *
 * The client secret never sits in a var: the entry names the Worker secret that holds it,
 * and that secret is checked here, once (present, long enough). It may not be one of the
 * gateway's own settings, so a typo cannot send OPERATOR_TOKEN to a provider.
 */
import { type KeyTable, unknownKey } from "../schema/known-keys";
import type { GatewayMode, IntrospectionConfig } from "./config";
import type { ConfigEnv } from "./env";
import { absoluteUrl, type ConfigError, namedSecretValue } from "./env-readers";

/** The keys of an issuer's `introspection`: the check, its messages and docs/configuration.md read this. */
export const INTROSPECTION_KEYS: KeyTable = Object.freeze({
  url: "the provider's introspection endpoint (https; http only with PORTCULLIS_ENV=development)",
  client_id: "the client the gateway authenticates as (client_secret_basic)",
  client_secret_env:
    "the name of the Worker secret holding that client's secret (`wrangler secret put`), e.g. \"INTROSPECTION_SECRET_OKTA\"; at least 32 characters; never a setting of the gateway's own",
  cache_seconds:
    "how long an active answer is remembered per isolate, at most (never past the token's `exp`): a token revoked at the provider is refused here within this time (default 300; 0 to ask on every request; at most 3600)",
  timeout_ms:
    "how long one call to the endpoint may take before the request is answered 503 (default 3000; 100 to 10000)",
});

/** An active answer is remembered this long at most unless `cache_seconds` says otherwise. */
export const DEFAULT_INTROSPECTION_CACHE_SECONDS = 300;
/** An inactive answer (a made-up or revoked token) is remembered this long. */
export const NEGATIVE_INTROSPECTION_CACHE_SECONDS = 10;

const SECRET_NAME = /^[A-Z][A-Z0-9_]{2,63}$/;
const CLIENT_ID = /^[\x21-\x7e]{1,256}$/;

export interface IntrospectionContext {
  readonly mode: GatewayMode;
  /** The Worker's env, where the secret named by `client_secret_env` is. */
  readonly env: Readonly<Record<string, unknown>>;
  /** A ConfigError naming the issuer: `TRUSTED_ISSUERS: issuer 0 (okta) <problem>`. */
  readonly at: (problem: string) => ConfigError;
}

/** The `introspection` of one issuer; undefined when absent. */
export function parseIntrospection(value: unknown, context: IntrospectionContext): IntrospectionConfig | undefined {
  if (value === undefined) return undefined;
  const { at } = context;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw at('"introspection" must be an object: { url, client_id, client_secret_env }');
  }
  const entry = value as Record<string, unknown>;
  const unknown = unknownKey(entry, INTROSPECTION_KEYS);
  if (unknown !== undefined) throw at(`"introspection": ${unknown}`);

  if (typeof entry.url !== "string") throw at('"introspection" needs a "url"');
  let url: URL;
  try {
    url = absoluteUrl("TRUSTED_ISSUERS", entry.url);
  } catch {
    throw at('"introspection.url" must be an absolute URL without credentials, a query or a fragment');
  }
  const development = context.mode === "development";
  if (url.protocol !== "https:" && !development) {
    throw at('"introspection.url" must be https in production (http is for a local provider in development)');
  }

  const clientId = entry.client_id;
  if (typeof clientId !== "string" || !CLIENT_ID.test(clientId)) {
    throw at('"introspection" needs a "client_id": visible characters, no spaces');
  }

  const secretName = entry.client_secret_env;
  if (typeof secretName !== "string" || !SECRET_NAME.test(secretName)) {
    throw at(
      '"introspection" needs a "client_secret_env": the name of the Worker secret with the client\'s secret, e.g. "INTROSPECTION_SECRET_OKTA"',
    );
  }
  const clientSecret = namedSecretValue(context.env as ConfigEnv, secretName, "introspection.client_secret_env", at);

  return Object.freeze({
    url: url.href,
    allowInsecureRequests: url.protocol === "http:",
    clientId,
    clientSecret,
    cacheSeconds: wholeNumber(entry.cache_seconds, "cache_seconds", DEFAULT_INTROSPECTION_CACHE_SECONDS, 0, 3_600, at),
    negativeCacheSeconds: NEGATIVE_INTROSPECTION_CACHE_SECONDS,
    timeoutMs: wholeNumber(entry.timeout_ms, "timeout_ms", 3_000, 100, 10_000, at),
  });
}

function wholeNumber(
  value: unknown,
  key: string,
  fallback: number,
  min: number,
  max: number,
  at: (problem: string) => ConfigError,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw at(`"introspection.${key}" must be a whole number from ${min} to ${max}`);
  }
  return value;
}
