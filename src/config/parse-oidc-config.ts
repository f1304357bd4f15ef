/**
 * The OIDC_* settings: login through an OpenID Connect provider. All of them are
 * optional until OIDC_ISSUER (or LOGIN_PROVIDERS) is set; then the client id, client secret and sealing
 * secret are required. An `http:` issuer is accepted only in development mode. The
 * pieces that check one value are exported for LOGIN_PROVIDERS' entries (parse-login-providers.ts).
 */
import type { JWK } from "jose";
import { PRIVATE_JWK_MEMBERS } from "../schema/jwk-members";
import { unknownKey } from "../schema/known-keys";
import type { GatewayMode, OidcConfig, SealingSecrets } from "./config";
import { DEV_OIDC_CLIENT_SECRET, DEV_OIDC_SEALING_SECRET } from "./dev-keys";
import type { ConfigEnv } from "./env";
import { absoluteUrl, ConfigError, integer, json, parseBoolean, secret, text } from "./env-readers";

const DEFAULT_SCOPES = "openid profile email offline_access";

/** The id of the provider the OIDC_* settings configure (its paths stay /auth/oidc/*). */
export const OIDC_SETTINGS_PROVIDER_ID = "oidc";
const CLAIM_NAME = /^[A-Za-z0-9_:./-]{1,128}$/;
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

function claimName(env: ConfigEnv, name: keyof ConfigEnv): string | undefined {
  const value = text(env, name);
  if (value !== undefined && !CLAIM_NAME.test(value)) throw new ConfigError(String(name), "must be a claim name");
  return value;
}

/** Is this a claim name a provider's mapping may read? */
export function isClaimName(value: unknown): value is string {
  return typeof value === "string" && CLAIM_NAME.test(value);
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

/**
 * Extra authorization-request parameters from a query string; `refuse` turns a problem
 * into the error that names the setting (OIDC_AUTHORIZATION_PARAMS, or a LOGIN_PROVIDERS entry).
 */
export function authorizationParamsOf(
  value: string | undefined,
  refuse: (problem: string) => ConfigError,
): Readonly<Record<string, string>> {
  if (value === undefined) return Object.freeze({});
  const params: Record<string, string> = {};
  for (const [name, paramValue] of new URLSearchParams(value)) {
    if (RESERVED_PARAMS.has(name)) throw refuse(`must not set "${name}" (the gateway sets it)`);
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name) || paramValue.length > 512) {
      throw refuse('must be a query string like "prompt=consent"');
    }
    params[name] = paramValue;
  }
  return Object.freeze(params);
}

const CLIENT_KEY_ALGORITHMS = new Set(["RS256", "PS256", "ES256", "EdDSA"]);

/** A private JWK for private_key_jwt client authentication (OIDC_CLIENT_PRIVATE_KEY, or a provider's). */
export function privateKeyOf(raw: unknown, refuse: (problem: string) => ConfigError): Readonly<JWK> | undefined {
  if (raw === undefined) return undefined;
  const jwk = raw as JWK;
  if (typeof jwk !== "object" || jwk === null || typeof jwk.d !== "string") throw refuse("must be a private JWK");
  if (typeof jwk.kid !== "string" || jwk.kid === "") throw refuse('needs a "kid"');
  const unknown = unknownKey(jwk, PRIVATE_JWK_MEMBERS);
  if (unknown !== undefined) throw refuse(unknown);
  if (typeof jwk.alg !== "string" || !CLIENT_KEY_ALGORITHMS.has(jwk.alg)) {
    throw refuse('needs "alg" of RS256, PS256, ES256 or EdDSA');
  }
  return Object.freeze({ ...jwk });
}

/** Scope names separated by spaces (or a list); for OIDC, "openid" among them. */
export function scopesOf(
  value: string | readonly unknown[],
  requireOpenid: boolean,
  refuse: (problem: string) => ConfigError,
): readonly string[] {
  const scopes = typeof value === "string" ? value.split(/\s+/) : [...value];
  if (!scopes.every((scope) => typeof scope === "string" && SCOPE_TOKEN.test(scope))) {
    throw refuse("must be scope names separated by spaces");
  }
  if (requireOpenid && !scopes.includes("openid")) throw refuse('must include "openid"');
  return Object.freeze(scopes as string[]);
}

/** An issuer identifier: absolute http(s), no credentials, query or fragment; http only in development. */
export function issuerOf(
  issuerText: string,
  mode: GatewayMode,
  refuse: (problem: string) => ConfigError,
): { readonly issuer: string; readonly insecure: boolean } {
  let issuer: URL;
  try {
    issuer = new URL(issuerText);
  } catch {
    throw refuse("must be an absolute https URL");
  }
  if (issuer.protocol !== "https:" && issuer.protocol !== "http:") throw refuse("must be an absolute https URL");
  if (issuer.username || issuer.password || issuer.search || issuer.hash) {
    throw refuse("must not contain credentials, a query or a fragment");
  }
  const insecure = issuer.protocol === "http:";
  if (insecure && mode === "production") {
    throw refuse("must be https in production (http is for a local development IdP only)");
  }
  // The issuer identifier is compared exactly; keep it as configured (no added slash).
  return { issuer: issuerText, insecure };
}

/** The OIDC_* settings every login provider shares (the redirect to the login, the IdP token's use upstream). */
export interface SharedLoginSettings {
  readonly sealingSecrets: SealingSecrets;
  readonly postLogoutRedirectUri: string | undefined;
  readonly forwardIdpToken: boolean;
  readonly refreshSkewSeconds: number;
  readonly loginRedirect: boolean;
}

/** The settings every provider shares; read once any provider is configured. */
export function sharedLoginSettings(env: ConfigEnv, mode: GatewayMode): SharedLoginSettings {
  const sealingSecret =
    secret(env, "OIDC_SEALING_SECRET", DEV_OIDC_SEALING_SECRET, mode) ??
    (mode === "development" ? DEV_OIDC_SEALING_SECRET : undefined);
  if (sealingSecret === undefined) {
    throw new ConfigError("OIDC_SEALING_SECRET", "is required with OIDC_ISSUER or LOGIN_PROVIDERS");
  }
  // Equal to the current secret is the first step of a rotation (each secret deploys on its
  // own, docs/operations.md), not a mistake: it then adds nothing.
  const previousSealingSecret = secret(env, "OIDC_SEALING_SECRET_PREVIOUS", DEV_OIDC_SEALING_SECRET, mode);
  return Object.freeze({
    sealingSecrets: Object.freeze({
      current: sealingSecret,
      previous: previousSealingSecret === sealingSecret ? undefined : previousSealingSecret,
    }),
    postLogoutRedirectUri: optionalUrl(env, "OIDC_POST_LOGOUT_REDIRECT_URI", mode),
    forwardIdpToken: parseBoolean(env, "OIDC_FORWARD_IDP_TOKEN", false),
    refreshSkewSeconds: integer(env, "OIDC_REFRESH_SKEW_SECONDS", 30, 0, 86_400),
    loginRedirect: parseBoolean(env, "OIDC_LOGIN_REDIRECT", true),
  });
}

/** An absolute URL, https in production; `name` is the setting (or a LOGIN_PROVIDERS entry's key). */
export function httpsUrlOf(name: string, value: string, mode: GatewayMode): string {
  const url = absoluteUrl(name, value);
  if (mode === "production" && url.protocol !== "https:") throw new ConfigError(name, "must be https");
  return url.href;
}

function optionalUrl(env: ConfigEnv, name: keyof ConfigEnv, mode: GatewayMode): string | undefined {
  const value = text(env, name);
  return value === undefined ? undefined : httpsUrlOf(String(name), value, mode);
}

/** Parse the OIDC_* provider; undefined when OIDC_ISSUER is not set. */
export function parseOidcConfig(
  env: ConfigEnv,
  mode: GatewayMode,
  shared: SharedLoginSettings,
): OidcConfig | undefined {
  const issuerText = text(env, "OIDC_ISSUER");
  if (issuerText === undefined) return undefined;
  const { issuer, insecure } = issuerOf(issuerText, mode, (problem) => new ConfigError("OIDC_ISSUER", problem));
  const clientId = text(env, "OIDC_CLIENT_ID");
  if (clientId === undefined) throw new ConfigError("OIDC_CLIENT_ID", "is required with OIDC_ISSUER");
  const clientPrivateKey = privateKeyOf(
    json(env, "OIDC_CLIENT_PRIVATE_KEY"),
    (problem) => new ConfigError("OIDC_CLIENT_PRIVATE_KEY", problem),
  );
  const clientSecret =
    secret(env, "OIDC_CLIENT_SECRET", DEV_OIDC_CLIENT_SECRET, mode) ??
    (mode === "development" && clientPrivateKey === undefined ? DEV_OIDC_CLIENT_SECRET : undefined);
  if (clientSecret === undefined && clientPrivateKey === undefined) {
    throw new ConfigError("OIDC_CLIENT_SECRET", "is required with OIDC_ISSUER (or OIDC_CLIENT_PRIVATE_KEY)");
  }
  const scopes = scopesOf(
    text(env, "OIDC_SCOPES") ?? DEFAULT_SCOPES,
    true,
    (problem) => new ConfigError("OIDC_SCOPES", problem),
  );
  const subjectPrefix = text(env, "OIDC_SUBJECT_PREFIX") ?? "oidc|";
  if (subjectPrefix.length > 64) throw new ConfigError("OIDC_SUBJECT_PREFIX", "must be at most 64 characters");
  const label = text(env, "OIDC_LABEL") ?? "Single sign-on";
  if (label.length > 64) throw new ConfigError("OIDC_LABEL", "must be at most 64 characters");

  return Object.freeze({
    id: OIDC_SETTINGS_PROVIDER_ID,
    kind: "oidc",
    label,
    fromOidcSettings: true,
    emailDomains: Object.freeze([]),
    github: undefined,
    issuer,
    allowInsecureRequests: insecure,
    clientId,
    clientSecret,
    clientPrivateKey,
    scopes,
    authorizationParams: authorizationParamsOf(
      text(env, "OIDC_AUTHORIZATION_PARAMS"),
      (problem) => new ConfigError("OIDC_AUTHORIZATION_PARAMS", problem),
    ),
    scopeClaim: claimName(env, "OIDC_SCOPE_CLAIM"),
    rolesClaim: claimName(env, "OIDC_ROLES_CLAIM"),
    subjectPrefix,
    redirectUri: optionalUrl(env, "OIDC_REDIRECT_URI", mode),
    ...shared,
  });
}
