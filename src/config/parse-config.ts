/**
 * Turns the Worker's env into a validated, frozen GatewayConfig.
 *
 * Every setting has a default or a clear error that names it. Errors never echo a
 * secret's value. The parse runs once per env object (per isolate), not per request.
 */
import type { JSONWebKeySet, JWK } from "jose";
import { canonicalPath } from "../canonical/canonical-path";
import { parseRouteRules } from "../policy/route-policy";
import type { GatewayConfig, GatewayMode, SameSite, UpstreamTarget } from "./config";
import { DEV_CREDENTIAL_CHECK_SECRET, DEV_OPERATOR_TOKEN, DEV_SIGNING_KEY } from "./dev-keys";
import type { ConfigEnv } from "./env";
import { absoluteUrl, ConfigError, integer, json, parseBoolean, secret, text } from "./env-readers";
import { parseOidcConfig } from "./parse-oidc-config";

export { ConfigError };

const SIGNING_ALGORITHMS = new Set(["EdDSA", "ES256", "RS256"]);

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

function parseSigningKeys(env: ConfigEnv, mode: GatewayMode): JWK[] {
  const raw = json(env, "SIGNING_KEYS");
  if (raw === undefined) return mode === "development" ? [{ ...DEV_SIGNING_KEY }] : [];
  const keys = Array.isArray(raw) ? raw : (raw as { keys?: unknown })?.keys;
  if (!Array.isArray(keys) || keys.length === 0) {
    throw new ConfigError("SIGNING_KEYS", 'must be a JSON array of private JWKs (or {"keys": [...]})');
  }
  const seen = new Set<string>();
  return keys.map((key: unknown, index) => {
    const jwk = key as JWK;
    if (typeof jwk !== "object" || jwk === null || typeof jwk.kid !== "string" || jwk.kid === "") {
      throw new ConfigError("SIGNING_KEYS", `key ${index} needs a "kid"`);
    }
    if (typeof jwk.alg !== "string" || !SIGNING_ALGORITHMS.has(jwk.alg)) {
      throw new ConfigError("SIGNING_KEYS", `key ${index} needs "alg" of EdDSA, ES256 or RS256`);
    }
    if (typeof jwk.d !== "string") throw new ConfigError("SIGNING_KEYS", `key ${index} is not a private key`);
    if (seen.has(jwk.kid)) throw new ConfigError("SIGNING_KEYS", `kid "${jwk.kid}" appears twice`);
    seen.add(jwk.kid);
    if (mode === "production" && (jwk.kid === DEV_SIGNING_KEY.kid || jwk.d === DEV_SIGNING_KEY.d)) {
      throw new ConfigError("SIGNING_KEYS", "holds the development-only key; run `npm run keygen` for a real one");
    }
    return Object.freeze({ ...jwk });
  });
}

function parseVerifyJwks(env: ConfigEnv): JSONWebKeySet | undefined {
  const raw = json(env, "VERIFY_JWKS");
  if (raw === undefined) return undefined;
  const keys = (raw as { keys?: unknown }).keys;
  if (!Array.isArray(keys)) throw new ConfigError("VERIFY_JWKS", 'must be a JWKS: {"keys": [...]}');
  for (const [index, key] of keys.entries()) {
    const jwk = key as JWK;
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
}

/** Parse and validate every setting. Throws ConfigError naming the first bad one. */
export function parseConfig(env: ConfigEnv, options: ParseOptions = {}): GatewayConfig {
  const mode = parseMode(env);
  const development = mode === "development";

  const issuer = text(env, "TOKEN_ISSUER") ?? (development ? "http://localhost:8787" : undefined);
  if (issuer === undefined) throw new ConfigError("TOKEN_ISSUER", "is required");
  const audience = text(env, "TOKEN_AUDIENCE") ?? (development ? "portcullis-demo" : undefined);
  if (audience === undefined) throw new ConfigError("TOKEN_AUDIENCE", "is required");

  const signingKeys = parseSigningKeys(env, mode);
  const activeSigningKid = text(env, "ACTIVE_SIGNING_KID") ?? signingKeys[0]?.kid;
  if (activeSigningKid !== undefined && !signingKeys.some((key) => key.kid === activeSigningKid)) {
    throw new ConfigError("ACTIVE_SIGNING_KID", "names no key in SIGNING_KEYS");
  }
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
  const operatorToken =
    secret(env, "OPERATOR_TOKEN", DEV_OPERATOR_TOKEN, mode) ?? (development ? DEV_OPERATOR_TOKEN : undefined);

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

  const config: GatewayConfig = {
    mode,
    realm: text(env, "REALM") ?? "portcullis",
    upstream: parseUpstream(env, options.requireUpstream ?? true),
    upstreamTimeoutMs: integer(env, "UPSTREAM_TIMEOUT_MS", 30_000, 100, 600_000),
    issuer,
    audience,
    accessTokenTtl,
    refreshTokenTtl,
    sessionIdleTtl,
    refreshGraceSeconds: integer(env, "REFRESH_GRACE_SECONDS", 10, 0, 120),
    clockToleranceSeconds: integer(env, "CLOCK_TOLERANCE_SECONDS", 5, 0, 300),
    signingKeys: Object.freeze(signingKeys),
    activeSigningKid,
    verifyJwks,
    jwksUrl,
    jwksCacheSeconds: integer(env, "JWKS_CACHE_SECONDS", 600, 1, 86_400),
    jwksCooldownSeconds: integer(env, "JWKS_COOLDOWN_SECONDS", 30, 0, 3_600),
    accessSecret,
    routes: parseRouteRules(json(env, "ROUTES"), (problem) => new ConfigError("ROUTES", problem)),
    paths: Object.freeze({
      semicolons: parseBoolean(env, "ALLOW_PATH_SEMICOLONS", false),
      doubleSlashes: parseBoolean(env, "ALLOW_DOUBLE_SLASHES", false),
      encodedSlashes: parseBoolean(env, "ALLOW_ENCODED_SLASHES", false),
    }),
    postMayOverride: parseMethodOverride(env),
    revocationCacheSeconds: integer(env, "REVOCATION_CACHE_SECONDS", 5, 0, 60),
    rotationRecord: parseRotationRecord(env),
    maxSessionsPerUser: integer(env, "MAX_SESSIONS_PER_USER", 0, 0, 1_000),
    websocketRevalidateSeconds: integer(env, "WEBSOCKET_REVALIDATE_SECONDS", 30, 1, 3_600),
    credentialCheckPath,
    credentialCheckSecret,
    cookieSameSite,
    accessCookie: parseBoolean(env, "ACCESS_COOKIE", false),
    operatorToken,
    allowedOrigins,
    revokeClient: revokeClientId && revokeClientSecret ? { id: revokeClientId, secret: revokeClientSecret } : undefined,
    oidc: parseOidcConfig(env, mode),
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

/** `parseConfig`, remembered per env object so a request never re-parses. */
export function configFor(env: ConfigEnv): GatewayConfig {
  return rememberedConfig(parsed, env, () => parseConfig(env));
}
