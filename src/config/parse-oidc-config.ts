/**
 * The OIDC_* settings: login through an OpenID Connect provider. All of them are
 * optional until OIDC_ISSUER is set; then the client id, client secret and sealing
 * secret are required. An `http:` issuer is accepted only in development mode.
 */
import type { JWK } from "jose";
import { PRIVATE_JWK_MEMBERS } from "../schema/jwk-members";
import { unknownKey } from "../schema/known-keys";
import type { GatewayMode, OidcConfig } from "./config";
import { DEV_OIDC_CLIENT_SECRET, DEV_OIDC_SEALING_SECRET } from "./dev-keys";
import type { ConfigEnv } from "./env";
import { absoluteUrl, ConfigError, integer, json, parseBoolean, secret, text } from "./env-readers";

const DEFAULT_SCOPES = "openid profile email offline_access";
const CLAIM_NAME = /^[A-Za-z0-9_:./-]{1,128}$/;
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

function claimName(env: ConfigEnv, name: keyof ConfigEnv): string | undefined {
  const value = text(env, name);
  if (value !== undefined && !CLAIM_NAME.test(value)) throw new ConfigError(String(name), "must be a claim name");
  return value;
}

/** Parameters the login sets itself; configuring them would undo a protection. */
const RESERVED_PARAMS = new Set([
  "response_type",
  "response_mode",
  "client_id",
  "redirect_uri",
  "scope",
  "state",
  "nonce",
  "code_challenge",
  "code_challenge_method",
  "request",
  "request_uri",
]);

function authorizationParams(env: ConfigEnv): Record<string, string> {
  const value = text(env, "OIDC_AUTHORIZATION_PARAMS");
  if (value === undefined) return Object.freeze({});
  const params: Record<string, string> = {};
  for (const [name, paramValue] of new URLSearchParams(value)) {
    if (RESERVED_PARAMS.has(name)) {
      throw new ConfigError("OIDC_AUTHORIZATION_PARAMS", `must not set "${name}" (the gateway sets it)`);
    }
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name) || paramValue.length > 512) {
      throw new ConfigError("OIDC_AUTHORIZATION_PARAMS", 'must be a query string like "prompt=consent"');
    }
    params[name] = paramValue;
  }
  return Object.freeze(params);
}

const CLIENT_KEY_ALGORITHMS = new Set(["RS256", "PS256", "ES256", "EdDSA"]);

/** OIDC_CLIENT_PRIVATE_KEY: a private JWK for private_key_jwt client authentication. */
function privateKey(env: ConfigEnv): Readonly<JWK> | undefined {
  const raw = json(env, "OIDC_CLIENT_PRIVATE_KEY");
  if (raw === undefined) return undefined;
  const jwk = raw as JWK;
  if (typeof jwk !== "object" || jwk === null || typeof jwk.d !== "string") {
    throw new ConfigError("OIDC_CLIENT_PRIVATE_KEY", "must be a private JWK");
  }
  if (typeof jwk.kid !== "string" || jwk.kid === "") throw new ConfigError("OIDC_CLIENT_PRIVATE_KEY", 'needs a "kid"');
  const unknown = unknownKey(jwk, PRIVATE_JWK_MEMBERS);
  if (unknown !== undefined) throw new ConfigError("OIDC_CLIENT_PRIVATE_KEY", unknown);
  if (typeof jwk.alg !== "string" || !CLIENT_KEY_ALGORITHMS.has(jwk.alg)) {
    throw new ConfigError("OIDC_CLIENT_PRIVATE_KEY", 'needs "alg" of RS256, PS256, ES256 or EdDSA');
  }
  return Object.freeze({ ...jwk });
}

function optionalUrl(env: ConfigEnv, name: keyof ConfigEnv, mode: GatewayMode): string | undefined {
  const value = text(env, name);
  if (value === undefined) return undefined;
  const url = absoluteUrl(String(name), value);
  if (mode === "production" && url.protocol !== "https:") throw new ConfigError(String(name), "must be https");
  return url.href;
}

/** Parse the OIDC settings; undefined when OIDC_ISSUER is not set (IdP login off). */
export function parseOidcConfig(env: ConfigEnv, mode: GatewayMode): OidcConfig | undefined {
  const issuerText = text(env, "OIDC_ISSUER");
  if (issuerText === undefined) return undefined;
  let issuer: URL;
  try {
    issuer = new URL(issuerText);
  } catch {
    throw new ConfigError("OIDC_ISSUER", "must be an absolute https URL");
  }
  if (issuer.protocol !== "https:" && issuer.protocol !== "http:") {
    throw new ConfigError("OIDC_ISSUER", "must be an absolute https URL");
  }
  if (issuer.username || issuer.password || issuer.search || issuer.hash) {
    throw new ConfigError("OIDC_ISSUER", "must not contain credentials, a query or a fragment");
  }
  const insecure = issuer.protocol === "http:";
  if (insecure && mode === "production") {
    throw new ConfigError("OIDC_ISSUER", "must be https in production (http is for a local development IdP only)");
  }

  if (env.IDP_LOGOUT_INDEX === undefined) {
    throw new ConfigError(
      "IDP_LOGOUT_INDEX",
      "Durable Object binding is required with OIDC_ISSUER (see wrangler.toml)",
    );
  }
  const clientId = text(env, "OIDC_CLIENT_ID");
  if (clientId === undefined) throw new ConfigError("OIDC_CLIENT_ID", "is required with OIDC_ISSUER");
  const clientPrivateKey = privateKey(env);
  const clientSecret =
    secret(env, "OIDC_CLIENT_SECRET", DEV_OIDC_CLIENT_SECRET, mode) ??
    (mode === "development" && clientPrivateKey === undefined ? DEV_OIDC_CLIENT_SECRET : undefined);
  if (clientSecret === undefined && clientPrivateKey === undefined) {
    throw new ConfigError("OIDC_CLIENT_SECRET", "is required with OIDC_ISSUER (or OIDC_CLIENT_PRIVATE_KEY)");
  }
  const sealingSecret =
    secret(env, "OIDC_SEALING_SECRET", DEV_OIDC_SEALING_SECRET, mode) ??
    (mode === "development" ? DEV_OIDC_SEALING_SECRET : undefined);
  if (sealingSecret === undefined) throw new ConfigError("OIDC_SEALING_SECRET", "is required with OIDC_ISSUER");
  // Equal to the current secret is the first step of a rotation (each secret deploys on its
  // own, docs/operations.md), not a mistake: it then adds nothing.
  const previousSealingSecret = secret(env, "OIDC_SEALING_SECRET_PREVIOUS", DEV_OIDC_SEALING_SECRET, mode);

  const scopes = (text(env, "OIDC_SCOPES") ?? DEFAULT_SCOPES).split(/\s+/);
  if (!scopes.includes("openid")) throw new ConfigError("OIDC_SCOPES", 'must include "openid"');
  if (!scopes.every((scope) => SCOPE_TOKEN.test(scope))) {
    throw new ConfigError("OIDC_SCOPES", "must be scope names separated by spaces");
  }

  const subjectPrefix = text(env, "OIDC_SUBJECT_PREFIX") ?? "oidc|";
  if (subjectPrefix.length > 64) throw new ConfigError("OIDC_SUBJECT_PREFIX", "must be at most 64 characters");

  return Object.freeze({
    // The issuer identifier is compared exactly; keep it as configured (no added slash).
    issuer: issuerText,
    allowInsecureRequests: insecure,
    clientId,
    clientSecret,
    clientPrivateKey,
    scopes: Object.freeze(scopes),
    authorizationParams: authorizationParams(env),
    scopeClaim: claimName(env, "OIDC_SCOPE_CLAIM"),
    rolesClaim: claimName(env, "OIDC_ROLES_CLAIM"),
    subjectPrefix,
    sealingSecrets: Object.freeze({
      current: sealingSecret,
      previous: previousSealingSecret === sealingSecret ? undefined : previousSealingSecret,
    }),
    redirectUri: optionalUrl(env, "OIDC_REDIRECT_URI", mode),
    postLogoutRedirectUri: optionalUrl(env, "OIDC_POST_LOGOUT_REDIRECT_URI", mode),
    forwardIdpToken: parseBoolean(env, "OIDC_FORWARD_IDP_TOKEN", false),
    refreshSkewSeconds: integer(env, "OIDC_REFRESH_SKEW_SECONDS", 30, 0, 86_400),
    loginRedirect: parseBoolean(env, "OIDC_LOGIN_REDIRECT", true),
  });
}
