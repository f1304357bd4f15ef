/**
 * The OpenID Connect provider as this isolate knows it: its metadata (discovered once and
 * cached per isolate), its signing keys (the shared remote-JWKS cache), and the
 * oauth4webapi client objects. Everything else in src/oidc/ starts from `providerFor`.
 *
 * Lower layer: imports only config, errors, log and tokens.
 */
import { importJWK } from "jose";
import * as oauth from "oauth4webapi";
import type { OidcConfig } from "../config/config";
import { ConfigError } from "../config/env-readers";
import { GatewayError } from "../errors/gateway-error";
import { log } from "../log/logger";
import { type RemoteKeySet, remoteKeySetFor } from "../tokens/remote-key-set";
import { discoveryFailure, namedForProvider } from "./idp-errors";

/** How long discovered metadata is trusted before it is fetched again. */
const METADATA_TTL_MS = 60 * 60 * 1000;
const FETCH_TIMEOUT_MS = 5_000;
/** The ID-token algorithms accepted when the provider lists none we know. */
const DEFAULT_ALGORITHMS = ["RS256", "ES256", "EdDSA"];
const SUPPORTED_ALGORITHMS = new Set(DEFAULT_ALGORITHMS);

export interface Provider {
  readonly config: OidcConfig;
  readonly server: oauth.AuthorizationServer;
  readonly client: oauth.Client;
  readonly clientAuth: oauth.ClientAuth;
  /** Its JWKS; undefined for GitHub, which signs nothing we check. */
  readonly keys: RemoteKeySet | undefined;
  /** Algorithms an ID token or logout token may be signed with (never "none", never HS*). */
  readonly algorithms: readonly string[];
  /** Options for every oauth4webapi HTTP call (timeout; http only in development). */
  readonly http: HttpOptions;
}

interface CacheEntry {
  readonly provider: Promise<Provider>;
  readonly fetchedAt: number;
}

const cache = new Map<string, CacheEntry>();

/** The options every oauth4webapi call takes: a timeout, and http only in development. */
export interface HttpOptions {
  readonly signal: () => AbortSignal;
  readonly [oauth.allowInsecureRequests]?: boolean;
}

function httpOptions(config: OidcConfig): HttpOptions {
  return {
    signal: () => AbortSignal.timeout(FETCH_TIMEOUT_MS),
    // A named, loud option: only a development-mode config with an http: issuer sets it.
    ...(config.allowInsecureRequests ? { [oauth.allowInsecureRequests]: true } : {}),
  };
}

async function clientAuthFor(config: OidcConfig): Promise<oauth.ClientAuth> {
  // GitHub takes the client's credentials in the form body only.
  if (config.kind === "github") return oauth.ClientSecretPost(config.clientSecret as string);
  const jwk = config.clientPrivateKey;
  if (jwk === undefined) return oauth.ClientSecretBasic(config.clientSecret as string);
  try {
    const key = (await importJWK(jwk, jwk.alg)) as CryptoKey;
    return oauth.PrivateKeyJwt({ key, kid: jwk.kid });
  } catch (error) {
    throw new GatewayError("misconfigured", {
      detail: "OIDC_CLIENT_PRIVATE_KEY: not a usable private key",
      cause: error,
    });
  }
}

/** Where discovery reads the metadata: the issuer's path with /.well-known/openid-configuration appended. */
function discoveryUrl(issuer: URL): string {
  return `${issuer.origin}${issuer.pathname.replace(/\/$/, "")}/.well-known/openid-configuration`;
}

/**
 * GitHub has no discovery and no ID token: its endpoints are fixed paths under its web
 * origin (github.com or an Enterprise Server), and it never sends `iss` on the callback
 * (so one that arrives with an `iss` is refused by oauth4webapi as another server's).
 */
async function githubProvider(config: OidcConfig): Promise<Provider> {
  const server: oauth.AuthorizationServer = {
    issuer: config.issuer,
    authorization_endpoint: `${config.issuer}/login/oauth/authorize`,
    token_endpoint: `${config.issuer}/login/oauth/access_token`,
  };
  return {
    config,
    server,
    client: { client_id: config.clientId },
    clientAuth: await clientAuthFor(config),
    keys: undefined,
    algorithms: [],
    http: httpOptions(config),
  };
}

async function discover(config: OidcConfig): Promise<Provider> {
  if (config.kind === "github") return githubProvider(config);
  const issuer = new URL(config.issuer);
  const http = httpOptions(config);
  let server: oauth.AuthorizationServer;
  try {
    const response = await oauth.discoveryRequest(issuer, { ...http, algorithm: "oidc" });
    // Checks that the metadata's `issuer` is exactly the configured one (mix-up defence).
    server = await oauth.processDiscoveryResponse(issuer, response);
  } catch (error) {
    // A provider that is down, or settings that name it wrongly (idp-errors.ts).
    throw namedForProvider(config, discoveryFailure(discoveryUrl(issuer), config.issuer, error));
  }
  if (!server.authorization_endpoint || !server.token_endpoint || !server.jwks_uri) {
    throw namedForProvider(
      config,
      new ConfigError("OIDC_ISSUER", `the metadata at ${discoveryUrl(issuer)} lacks an endpoint the login needs`),
    );
  }
  if (config.allowInsecureRequests === false && new URL(server.jwks_uri).protocol !== "https:") {
    throw namedForProvider(
      config,
      new ConfigError("OIDC_ISSUER", `the metadata at ${discoveryUrl(issuer)} names a jwks_uri that is not https`),
    );
  }
  const listed = (server.id_token_signing_alg_values_supported ?? []).filter((alg) => SUPPORTED_ALGORITHMS.has(alg));
  const algorithms = listed.length > 0 ? listed : DEFAULT_ALGORITHMS;
  const keys = remoteKeySetFor(server.jwks_uri, {
    cacheSeconds: 600,
    cooldownSeconds: 30,
    fetcher: (input, init) => fetch(input, init),
  });
  return {
    config,
    server,
    client: { client_id: config.clientId },
    clientAuth: await clientAuthFor(config),
    keys,
    algorithms,
    http,
  };
}

/** The provider, discovered on first use in this isolate and cached for an hour; a failure is not cached. */
export function providerFor(config: OidcConfig, now: number = Date.now()): Promise<Provider> {
  const key = `${config.id} ${config.issuer}`;
  const entry = cache.get(key);
  if (entry !== undefined && now - entry.fetchedAt < METADATA_TTL_MS) return entry.provider;
  const provider = discover(config);
  cache.set(key, { provider, fetchedAt: now });
  provider.catch((error: unknown) => {
    if (cache.get(key)?.provider === provider) cache.delete(key);
    // The request that waited for it logs the error itself (config_invalid or dependency_failed).
    log.warn("oidc_discovery_failed", { reason: error instanceof Error ? error.message : "unknown" });
  });
  return provider;
}
