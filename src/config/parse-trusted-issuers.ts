/**
 * TRUSTED_ISSUERS: other issuers whose bearer tokens the gateway verifies (GitHub Actions
 * OIDC tokens, Kubernetes service-account tokens, any RFC 9068 issuer), each with its own
 * JWKS, audience, algorithms and claim mapping, and accepted only on routes that name it
 * (`issuers = ["github-actions"]`; docs/identities.md, "Trusted issuers").
 *
 * ```toml
 * TRUSTED_ISSUERS = [
 *   { id = "github-actions", issuer = "https://token.actions.githubusercontent.com",
 *     jwks_url = "https://token.actions.githubusercontent.com/.well-known/jwks",
 *     audience = "https://api.example.com", subject_prefix = "gha|" },
 * ]
 * ```
 *
 * An issuer whose provider hands out opaque tokens sets `introspection` instead of (or
 * beside) `jwks_url` (parse-introspection.ts); one issuer at most.
 *
 * Every key is checked here, once: an unknown one is refused with the nearest known one,
 * and every message names the issuer (`TRUSTED_ISSUERS: issuer 0 (github-actions) …`).
 */
import { OWN_TOKENS } from "../policy/route-rule";
import { type KeyTable, unknownKey } from "../schema/known-keys";
import { SERVICE_SUBJECT_PREFIX } from "../schema/subject-prefixes";
import type { GatewayMode, OidcConfig, TrustedIssuerConfig } from "./config";
import { absoluteUrl, ConfigError } from "./env-readers";
import { parseIntrospection } from "./parse-introspection";

/** Asymmetric algorithms a trusted issuer may sign with (what the JWKS import supports). */
export const TRUSTED_ISSUER_ALGORITHMS: readonly string[] = Object.freeze(["RS256", "ES256", "EdDSA"]);

/** At most this many trusted issuers: each is a key set the isolate fetches and keeps. */
export const MAX_TRUSTED_ISSUERS = 16;

/** The keys of an issuer, each with what it means: the check, its messages and docs/configuration.md read this. */
export const TRUSTED_ISSUER_KEYS: KeyTable = Object.freeze({
  id: 'the short name route rules use (`issuers = ["github-actions"]`): lower-case letters, digits, "-" and "_", at most 32; not "self"',
  issuer: "the exact `iss` of its tokens",
  jwks_url:
    "where its public keys are (https; http only with PORTCULLIS_ENV=development); may be left out when `introspection` is set and its tokens are all opaque",
  audience: "the `aud` its tokens must carry (one of these, when a list); required (RFC 8725 §3.9)",
  algorithms: 'the `alg`s accepted, of "RS256", "ES256", "EdDSA" (default: all three); never HS256 or none',
  subject_prefix:
    "prepended to its `sub`, so its subjects never meet another's (default: the id and a vertical bar); unique, and not the start of another issuer's or OIDC_SUBJECT_PREFIX",
  scope_claim: 'the claim whose values (a space-separated string or a list) become the scopes (default "scope")',
  roles_claim: 'the claim whose values become the roles (default "roles")',
  max_token_age: "seconds: refuse a token whose `iat` is older (default: only the 24-hour lifetime cap)",
  introspection:
    "RFC 7662 introspection of its opaque (non-JWT) tokens: `{ url, client_id, client_secret_env }` (keys: [Token introspection](#token-introspection)); one issuer at most",
});

const ID = /^[a-z0-9][a-z0-9_-]{0,31}$/;
const PREFIX = /^[\x21-\x7e]{1,64}$/;
const CLAIM = /^[A-Za-z0-9_.:-]{1,64}$/;
const AUDIENCE = /^[\x21-\x7e]{1,512}$/;

export interface TrustedIssuerContext {
  readonly mode: GatewayMode;
  /** TOKEN_ISSUER: the gateway's own tokens' `iss`. */
  readonly ownIssuer: string;
  /** JWKS_URL: the key set that verifies tokens claiming TOKEN_ISSUER. */
  readonly ownJwksUrl: string | undefined;
  /** The login providers (their subject prefixes must not meet an issuer's). */
  readonly loginProviders: readonly Pick<OidcConfig, "id" | "subjectPrefix">[];
  /** The Worker's env: an issuer's `introspection.client_secret_env` names a secret in it. */
  readonly env: Readonly<Record<string, unknown>>;
}

/** The trusted issuers, in their order; an empty list when the setting is absent. */
export function parseTrustedIssuers(raw: unknown, context: TrustedIssuerContext): readonly TrustedIssuerConfig[] {
  if (raw === undefined) return Object.freeze([]);
  if (!Array.isArray(raw)) throw fail("must be a list of issuers ({ id, issuer, jwks_url, audience, … })");
  if (raw.length > MAX_TRUSTED_ISSUERS) throw fail(`may list at most ${MAX_TRUSTED_ISSUERS} issuers`);
  const issuers = raw.map((item: unknown, index) => parseIssuer(item, index, context));
  for (const [index, issuer] of issuers.entries()) {
    for (const earlier of issuers.slice(0, index)) {
      const name = `issuer ${index} (${issuer.id})`;
      if (earlier.id === issuer.id) throw fail(`${name} has the id of another issuer`);
      if (earlier.issuer === issuer.issuer) throw fail(`${name} has the "issuer" of ${earlier.id}; one entry per iss`);
      if (earlier.jwksUrl !== undefined && earlier.jwksUrl === issuer.jwksUrl) {
        throw fail(
          `${name} has the "jwks_url" of ${earlier.id}: one key set, one issuer (or a token of one verifies as the other's)`,
        );
      }
      if (
        earlier.subjectPrefix.startsWith(issuer.subjectPrefix) ||
        issuer.subjectPrefix.startsWith(earlier.subjectPrefix)
      ) {
        throw fail(
          `${name}: "subject_prefix" ${issuer.subjectPrefix} and ${earlier.id}'s ${earlier.subjectPrefix} could make the same subject`,
        );
      }
    }
  }
  const introspected = issuers.filter((issuer) => issuer.introspection !== undefined);
  if (introspected.length > 1) {
    // An opaque token says nothing of whose it is: with two, every token would go to both
    // providers, each seeing the other's tokens. One provider per deployment.
    throw fail(
      `"introspection" is set on ${introspected.map((issuer) => issuer.id).join(" and ")}; one issuer at most, or every opaque token would be sent to each`,
    );
  }
  return Object.freeze(issuers);
}

function fail(problem: string): ConfigError {
  return new ConfigError("TRUSTED_ISSUERS", problem);
}

function parseIssuer(item: unknown, index: number, context: TrustedIssuerContext): TrustedIssuerConfig {
  if (typeof item !== "object" || item === null || Array.isArray(item)) throw fail(`issuer ${index} must be an object`);
  const entry = item as Record<string, unknown>;
  const { id } = entry;
  if (typeof id !== "string" || !ID.test(id)) {
    throw fail(
      `issuer ${index} needs an "id" of lower-case letters, digits, "-" and "_" (at most 32), e.g. "github-actions"`,
    );
  }
  const name = `issuer ${index} (${id})`;
  const at = (problem: string) => fail(`${name} ${problem}`);
  if (id === OWN_TOKENS) throw at(`cannot use the id "${OWN_TOKENS}": route rules name the gateway's own tokens so`);
  const unknown = unknownKey(entry, TRUSTED_ISSUER_KEYS);
  if (unknown !== undefined) throw at(unknown);

  const { issuer } = entry;
  if (typeof issuer !== "string" || issuer.trim() !== issuer || issuer === "" || issuer.length > 512) {
    throw at('needs an "issuer": the exact `iss` of its tokens');
  }
  if (issuer === context.ownIssuer) {
    throw at(`has the "issuer" of TOKEN_ISSUER: the gateway's own tokens are verified with its own keys only`);
  }

  const introspection = parseIntrospection(entry.introspection, { mode: context.mode, env: context.env, at });
  const jwksUrl = jwksUrlOf(entry.jwks_url, introspection !== undefined, context, at);

  const audience = audienceOf(entry.audience, at);
  const algorithms = algorithmsOf(entry.algorithms, at);

  const subjectPrefix = entry.subject_prefix ?? `${id}|`;
  if (typeof subjectPrefix !== "string" || !PREFIX.test(subjectPrefix)) {
    throw at('"subject_prefix" must be 1 to 64 visible characters without spaces, e.g. "gha|"');
  }
  // Service clients' subjects (svc|<id>) are the gateway's own; no other issuer may make one.
  if (SERVICE_SUBJECT_PREFIX.startsWith(subjectPrefix) || subjectPrefix.startsWith(SERVICE_SUBJECT_PREFIX)) {
    throw at(
      `"subject_prefix" ${subjectPrefix} could make the same subject as a service client (${SERVICE_SUBJECT_PREFIX})`,
    );
  }
  for (const provider of context.loginProviders) {
    const prefix = provider.subjectPrefix;
    if (prefix !== "" && (prefix.startsWith(subjectPrefix) || subjectPrefix.startsWith(prefix))) {
      const setting = provider.id === "oidc" ? "OIDC_SUBJECT_PREFIX" : `login provider ${provider.id}'s`;
      throw at(`"subject_prefix" ${subjectPrefix} could make the same subject as ${setting} (${prefix})`);
    }
  }

  const maxTokenAge = entry.max_token_age;
  if (
    maxTokenAge !== undefined &&
    (typeof maxTokenAge !== "number" || !Number.isInteger(maxTokenAge) || maxTokenAge < 1 || maxTokenAge > 86_400)
  ) {
    throw at('"max_token_age" must be a whole number of seconds from 1 to 86400');
  }

  return Object.freeze({
    id,
    issuer,
    jwksUrl,
    audience,
    algorithms,
    subjectPrefix,
    scopeClaim: claimOf(entry.scope_claim, "scope_claim", "scope", at),
    rolesClaim: claimOf(entry.roles_claim, "roles_claim", "roles", at),
    maxTokenAge: maxTokenAge as number | undefined,
    introspection,
  });
}

function jwksUrlOf(
  value: unknown,
  introspected: boolean,
  context: TrustedIssuerContext,
  at: (problem: string) => ConfigError,
): string | undefined {
  if (value === undefined && introspected) return undefined;
  if (typeof value !== "string") throw at('needs a "jwks_url" (or an "introspection", for opaque tokens)');
  let url: URL;
  try {
    url = absoluteUrl("TRUSTED_ISSUERS", value);
  } catch {
    throw at('"jwks_url" must be an absolute URL without credentials, a query or a fragment');
  }
  if (url.protocol !== "https:" && context.mode === "production") {
    throw at('"jwks_url" must be https in production (http is for a local issuer in development)');
  }
  if (context.ownJwksUrl !== undefined && new URL(context.ownJwksUrl).href === url.href) {
    throw at(`has the "jwks_url" of JWKS_URL, whose keys verify tokens claiming TOKEN_ISSUER: one key set, one issuer`);
  }
  return url.href;
}

function audienceOf(value: unknown, at: (problem: string) => ConfigError): readonly string[] {
  const list = typeof value === "string" ? [value] : value;
  if (
    !Array.isArray(list) ||
    list.length === 0 ||
    list.length > 8 ||
    list.some((audience) => typeof audience !== "string" || !AUDIENCE.test(audience))
  ) {
    throw at(
      'needs an "audience" (a string, or a list of up to 8): the `aud` its tokens are made for, so a token made for another service is refused',
    );
  }
  return Object.freeze([...(list as string[])]);
}

function algorithmsOf(value: unknown, at: (problem: string) => ConfigError): readonly string[] {
  if (value === undefined) return TRUSTED_ISSUER_ALGORITHMS;
  if (
    !Array.isArray(value) ||
    value.length === 0 ||
    value.some((alg) => typeof alg !== "string" || !TRUSTED_ISSUER_ALGORITHMS.includes(alg))
  ) {
    throw at(`"algorithms" must be a list of ${TRUSTED_ISSUER_ALGORITHMS.map((alg) => `"${alg}"`).join(", ")}`);
  }
  return Object.freeze([...new Set(value as string[])]);
}

function claimOf(value: unknown, key: string, fallback: string, at: (problem: string) => ConfigError): string {
  if (value === undefined) return fallback;
  if (typeof value !== "string" || !CLAIM.test(value)) throw at(`"${key}" must be a claim name, e.g. "${fallback}"`);
  return value;
}
