/**
 * Turns the Worker's env into a validated, frozen GatewayConfig.
 *
 * Every setting has a default or a clear error that names it. Errors never echo a
 * secret's value. The parse runs once per env object (per isolate), not per request.
 */
import type { JSONWebKeySet, JWK } from "jose";
import { canonicalPath } from "../canonical/canonical-path";
import { type LogFields, log } from "../log/logger";
import { parseRouteRules } from "../policy/route-policy";
import { PRIVATE_JWK_MEMBERS } from "../schema/jwk-members";
import { unknownKey } from "../schema/known-keys";
import { checkBindings } from "./bindings";
import {
  DEFAULT_MAX_SESSIONS_PER_USER,
  type GatewayConfig,
  type GatewayMode,
  type SameSite,
  type UpstreamTarget,
} from "./config";
import { DEV_CREDENTIAL_CHECK_SECRET, DEV_OPERATOR_TOKEN } from "./dev-keys";
import type { ConfigEnv } from "./env";
import { absoluteUrl, ConfigError, integer, json, parseBoolean, secret, text } from "./env-readers";
import { nearMisses } from "./near-misses";
import { parseDpopConfig } from "./parse-dpop-config";
import { parseLoginProviders } from "./parse-login-providers";
import { parseServiceTokenHeader } from "./parse-service-token-header";
import { parseOwnKeys, SIGNING_ALGORITHMS } from "./parse-signing-keys";
import { parseTrustedIssuers } from "./parse-trusted-issuers";
import { parseUpstreamAssertion } from "./parse-upstream-assertion";

export { ConfigError };

function parseMode(env: ConfigEnv): GatewayMode {
  const value = text(env, "PORTCULLIS_ENV") ?? "production";
  if (value !== "production" && value !== "development") {
    throw new ConfigError("PORTCULLIS_ENV", 'must be "production" or "development"');
  }
  return value;
}

function parseUpstream(env: ConfigEnv, required: boolean): UpstreamTarget {
  const url = text(env, "UPSTREAM_URL");
  if (url !== undefined) {
    const parsed = absoluteUrl("UPSTREAM_URL", url);
    return Object.freeze({ kind: "url", origin: parsed.origin, basePath: parsed.pathname.replace(/\/+$/, "") });
  }
  if (env.UPSTREAM !== undefined) return Object.freeze({ kind: "binding" });
  if (!required) return Object.freeze({ kind: "none" });
  throw new ConfigError("UPSTREAM_URL", "is required (or bind the upstream as the UPSTREAM service)");
}

function parseVerifyJwks(env: ConfigEnv): JSONWebKeySet | undefined {
  const raw = json(env, "VERIFY_JWKS");
  if (raw === undefined) return undefined;
  const keys = (raw as { keys?: unknown }).keys;
  if (!Array.isArray(keys)) throw new ConfigError("VERIFY_JWKS", 'must be a JWKS: {"keys": [...]}');
  const top = unknownKey(raw as object, { keys: "the public keys" });
  if (top !== undefined) throw new ConfigError("VERIFY_JWKS", top);
  for (const [index, key] of keys.entries()) {
    const jwk = key as JWK;
    if (typeof jwk !== "object" || jwk === null) throw new ConfigError("VERIFY_JWKS", `key ${index} must be a JWK`);
    const unknown = unknownKey(jwk, PRIVATE_JWK_MEMBERS);
    if (unknown !== undefined) throw new ConfigError("VERIFY_JWKS", `key ${index} ${unknown}`);
    if (typeof jwk.alg !== "string" || !SIGNING_ALGORITHMS.has(jwk.alg)) {
      throw new ConfigError("VERIFY_JWKS", `key ${index} needs "alg" of EdDSA, ES256 or RS256`);
    }
    if ("d" in jwk) throw new ConfigError("VERIFY_JWKS", `key ${index} is a private key; publish only public keys`);
  }
  return raw as JSONWebKeySet;
}

function parseSameSite(env: ConfigEnv): SameSite {
  const value = text(env, "COOKIE_SAMESITE") ?? "Strict";
  const normalized = value.charAt(0).toUpperCase() + value.slice(1).toLowerCase();
  if (normalized !== "Strict" && normalized !== "Lax" && normalized !== "None") {
    throw new ConfigError("COOKIE_SAMESITE", 'must be "Strict", "Lax" or "None"');
  }
  return normalized;
}

/**
 * PASSWORD_LOGIN: unset, POST /auth/login is on where a credential check can answer it
 * (the upstream's, with its secret, or one in code) and off (404) otherwise, as in an
 * OIDC-only deployment. Set to true without a way to check, it is a mistake named at start.
 */
function parsePasswordLogin(env: ConfigEnv, secret: string | undefined, options: ParseOptions): boolean | undefined {
  if (env.PASSWORD_LOGIN === undefined) return undefined;
  const wanted = parseBoolean(env, "PASSWORD_LOGIN", true);
  if (wanted && secret === undefined && options.credentialCheckInCode !== true) {
    throw new ConfigError(
      "CREDENTIAL_CHECK_SECRET",
      "is required for password login (PASSWORD_LOGIN = true); set PASSWORD_LOGIN = false to turn POST /auth/login off",
    );
  }
  return wanted;
}

function parseMethodOverride(env: ConfigEnv): boolean {
  const value = text(env, "UPSTREAM_METHOD_OVERRIDE") ?? "body";
  if (value !== "body" && value !== "none") {
    throw new ConfigError("UPSTREAM_METHOD_OVERRIDE", 'must be "body" or "none"');
  }
  return value === "body";
}

function parseRotationRecord(env: ConfigEnv): GatewayConfig["rotationRecord"] {
  const value = (text(env, "ROTATION_RECORD") ?? "ledger").toLowerCase();
  if (value !== "ledger" && value !== "session")
    throw new ConfigError("ROTATION_RECORD", 'must be "ledger" or "session"');
  return value;
}

function parseAllowedOrigins(env: ConfigEnv): string[] {
  const raw = json(env, "ALLOWED_ORIGINS");
  if (raw === undefined) return [];
  if (!Array.isArray(raw))
    throw new ConfigError("ALLOWED_ORIGINS", 'must be a list of origins ("https://app.example.com")');
  return raw.map((item: unknown) => {
    if (typeof item !== "string" || item === "*") {
      throw new ConfigError("ALLOWED_ORIGINS", "must list exact origins; a wildcard cannot be used with credentials");
    }
    let url: URL;
    try {
      url = new URL(item);
    } catch {
      throw new ConfigError("ALLOWED_ORIGINS", `"${item}" is not an origin`);
    }
    if (url.origin !== item)
      throw new ConfigError("ALLOWED_ORIGINS", `"${item}" is not an origin (scheme://host[:port])`);
    return item;
  });
}

export interface ParseOptions {
  /** The standalone gateway forwards to an upstream; a Hono app using the middleware need not. */
  readonly requireUpstream?: boolean;
  /** The app checks credentials in code (portcullis/hono's checkCredentials): no secret is needed for login. */
  readonly credentialCheckInCode?: boolean;
}

/** Parse and validate every setting. Throws ConfigError naming the first bad one. */
export function parseConfig(env: ConfigEnv, options: ParseOptions = {}): GatewayConfig {
  const mode = parseMode(env);
  const development = mode === "development";

  const issuer = text(env, "TOKEN_ISSUER") ?? (development ? "http://localhost:8787" : undefined);
  if (issuer === undefined) throw new ConfigError("TOKEN_ISSUER", "is required");
  const audience = text(env, "TOKEN_AUDIENCE") ?? (development ? "portcullis-demo" : undefined);
  if (audience === undefined) throw new ConfigError("TOKEN_AUDIENCE", "is required");

  const ownKeys = parseOwnKeys(env, mode);
  const { signingKeys } = ownKeys;
  const verifyJwks = parseVerifyJwks(env);
  const jwksUrl = text(env, "JWKS_URL");
  if (jwksUrl !== undefined) absoluteUrl("JWKS_URL", jwksUrl);
  const accessSecret = secret(env, "ACCESS_SECRET");
  if (signingKeys.length === 0 && !verifyJwks && !jwksUrl && !accessSecret) {
    throw new ConfigError("SIGNING_KEYS", "is required (or VERIFY_JWKS, JWKS_URL or ACCESS_SECRET to only verify)");
  }

  const accessTokenTtl = integer(env, "ACCESS_TOKEN_TTL", 900, 1, 86_400);
  const refreshTokenTtl = integer(env, "REFRESH_TOKEN_TTL", 30 * 86_400, 60, 400 * 86_400);
  const sessionIdleTtl = integer(env, "SESSION_IDLE_TTL", Math.min(7 * 86_400, refreshTokenTtl), 60, refreshTokenTtl);

  const credentialCheckPath = text(env, "CREDENTIAL_CHECK_PATH") ?? "/portcullis/credential-check";
  const checkPath = canonicalPath(credentialCheckPath);
  if (!checkPath.ok || checkPath.path !== credentialCheckPath) {
    throw new ConfigError(
      "CREDENTIAL_CHECK_PATH",
      'must be a plain path starting with "/" (no "%", ";", "//" or dot segments)',
    );
  }
  const credentialCheckSecret =
    secret(env, "CREDENTIAL_CHECK_SECRET", DEV_CREDENTIAL_CHECK_SECRET, mode) ??
    (development ? DEV_CREDENTIAL_CHECK_SECRET : undefined);
  const passwordLogin = parsePasswordLogin(env, credentialCheckSecret, options);
  const operatorToken =
    secret(env, "OPERATOR_TOKEN", DEV_OPERATOR_TOKEN, mode) ?? (development ? DEV_OPERATOR_TOKEN : undefined);
  // The token being rotated out; equal to OPERATOR_TOKEN is the first step of a rotation, not a mistake.
  const operatorTokenPrevious = secret(env, "OPERATOR_TOKEN_PREVIOUS", DEV_OPERATOR_TOKEN, mode);
  if (operatorTokenPrevious !== undefined && text(env, "OPERATOR_TOKEN") === undefined) {
    throw new ConfigError("OPERATOR_TOKEN_PREVIOUS", "needs OPERATOR_TOKEN, the token that replaces it");
  }

  const revokeClientId = text(env, "REVOKE_CLIENT_ID");
  const revokeClientSecret = secret(env, "REVOKE_CLIENT_SECRET");
  if ((revokeClientId === undefined) !== (revokeClientSecret === undefined)) {
    throw new ConfigError(revokeClientId ? "REVOKE_CLIENT_SECRET" : "REVOKE_CLIENT_ID", "is required with the other");
  }

  const cookieSameSite = parseSameSite(env);
  const allowedOrigins = Object.freeze(parseAllowedOrigins(env));
  if (cookieSameSite === "None" && allowedOrigins.length === 0) {
    // None sends the cookies on requests from every site; it is only for an app served from
    // another site, which must then be named (CORS and the origin check trust only those).
    throw new ConfigError(
      "COOKIE_SAMESITE",
      'is "None", which needs ALLOWED_ORIGINS: name the sites that may use the cookies',
    );
  }

  const upstream = parseUpstream(env, options.requireUpstream ?? true);
  const loginProviders = parseLoginProviders(env, mode);
  const trustedIssuers = parseTrustedIssuers(json(env, "TRUSTED_ISSUERS"), {
    mode,
    ownIssuer: issuer,
    ownJwksUrl: jwksUrl,
    loginProviders,
    env,
  });
  const routes = parseRouteRules(json(env, "ROUTES"), (problem) => new ConfigError("ROUTES", problem), {
    issuers: trustedIssuers.map((trusted) => trusted.id),
  });
  const config: GatewayConfig = {
    mode,
    realm: text(env, "REALM") ?? "portcullis",
    upstream,
    upstreamTimeoutMs: integer(env, "UPSTREAM_TIMEOUT_MS", 30_000, 100, 600_000),
    issuer,
    audience,
    accessTokenTtl,
    refreshTokenTtl,
    sessionIdleTtl,
    refreshGraceSeconds: integer(env, "REFRESH_GRACE_SECONDS", 10, 0, 120),
    clockToleranceSeconds: integer(env, "CLOCK_TOLERANCE_SECONDS", 5, 0, 300),
    ...ownKeys,
    verifyJwks,
    jwksUrl,
    jwksCacheSeconds: integer(env, "JWKS_CACHE_SECONDS", 600, 1, 86_400),
    jwksCooldownSeconds: integer(env, "JWKS_COOLDOWN_SECONDS", 30, 0, 3_600),
    accessSecret,
    trustedIssuers,
    routes,
    paths: Object.freeze({
      semicolons: parseBoolean(env, "ALLOW_PATH_SEMICOLONS", false),
      doubleSlashes: parseBoolean(env, "ALLOW_DOUBLE_SLASHES", false),
      encodedSlashes: parseBoolean(env, "ALLOW_ENCODED_SLASHES", false),
    }),
    postMayOverride: parseMethodOverride(env),
    revocationCacheSeconds: integer(env, "REVOCATION_CACHE_SECONDS", 5, 0, 60),
    rotationRecord: parseRotationRecord(env),
    maxSessionsPerUser: integer(env, "MAX_SESSIONS_PER_USER", DEFAULT_MAX_SESSIONS_PER_USER, 0, 1_000),
    websocketRevalidateSeconds: integer(env, "WEBSOCKET_REVALIDATE_SECONDS", 30, 1, 3_600),
    passwordLogin,
    rateLimits: parseBoolean(env, "RATE_LIMITS", true),
    credentialCheckPath,
    credentialCheckSecret,
    cookieSameSite,
    accessCookie: parseBoolean(env, "ACCESS_COOKIE", false),
    operatorToken,
    operatorTokenPrevious: operatorTokenPrevious === operatorToken ? undefined : operatorTokenPrevious,
    allowedOrigins,
    revokeClient: revokeClientId && revokeClientSecret ? { id: revokeClientId, secret: revokeClientSecret } : undefined,
    oidc: loginProviders[0],
    loginProviders,
    dpop: parseDpopConfig(env),
    upstreamAssertion: parseUpstreamAssertion(env, upstream, signingKeys, routes),
    serviceTokenHeader: parseServiceTokenHeader(env, {
      signs: signingKeys.length > 0,
      // Only portcullis/hono parses without requiring an upstream.
      embedded: options.requireUpstream === false,
    }),
  };
  return Object.freeze(config);
}

const parsed = new WeakMap<object, GatewayConfig | ConfigError>();

/**
 * A parse remembered per key (the env object), so a request never re-parses; a
 * configuration error is remembered too and thrown to every request until the env changes.
 */
export function rememberedConfig(
  cache: WeakMap<object, GatewayConfig | ConfigError>,
  key: object,
  parse: () => GatewayConfig,
): GatewayConfig {
  let entry = cache.get(key);
  if (entry === undefined) {
    try {
      entry = parse();
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      entry = error;
    }
    cache.set(key, entry);
  }
  if (entry instanceof ConfigError) throw entry;
  return entry;
}

/**
 * The config, with the bindings it needs checked (config/bindings.ts), and a warning for
 * each env name that is almost a setting (config/near-misses.ts): once per env and isolate.
 */
export function checkedConfig(env: ConfigEnv, config: GatewayConfig, warn: ConfigWarn = log.warn): GatewayConfig {
  checkBindings(env, config, {
    onMissingRateLimits: (names) =>
      warn("rate_limits_missing", { detail: `no rate limits for login and refresh: ${names.join(", ")} unbound` }),
  });
  for (const detail of nearMisses(env)) warn("setting_name_near_miss", { detail });
  return config;
}

/** Where `checkedConfig`'s warnings go: the log in the Worker, the terminal in `portcullis check`. */
export type ConfigWarn = (event: string, fields: LogFields & { readonly detail: string }) => void;

/** `parseConfig`, bindings checked, remembered per env object so a request never re-parses. */
export function configFor(env: ConfigEnv): GatewayConfig {
  return rememberedConfig(parsed, env, () => checkedConfig(env, parseConfig(env)));
}
