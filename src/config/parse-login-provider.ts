/**
 * One entry of LOGIN_PROVIDERS (parse-login-providers.ts reads the list): an OpenID Connect
 * provider (`kind = "oidc"`, the default) or GitHub (`kind = "github"`), every key checked
 * here, once, against the tables below (docs/configuration.md shows them, tested), each
 * message naming the provider (`LOGIN_PROVIDERS: provider 1 (github) …`).
 */
import { type KeyTable, unknownKey } from "../schema/known-keys";
import type { GatewayMode, GitHubLoginConfig, OidcConfig, SealingSecrets } from "./config";
import type { ConfigEnv } from "./env";
import { ConfigError, namedSecretValue } from "./env-readers";
import {
  authorizationParamsOf,
  httpsUrlOf,
  isClaimName,
  issuerOf,
  OIDC_SETTINGS_PROVIDER_ID,
  privateKeyOf,
  type SharedLoginSettings,
  scopesOf,
} from "./parse-oidc-config";

const COMMON_KEYS = {
  id: 'the short name in its paths (`/auth/login/<id>`, `/auth/login/<id>/callback`): lower-case letters, digits, "-" and "_", at most 32; not "oidc" (the OIDC_* settings\' provider)',
  kind: '"oidc" (default) or "github"',
  label: "what the login chooser's button says (default: the id)",
  client_id: "the gateway's client id at the provider",
  client_secret_env:
    "the name of the Worker secret holding the client secret (`wrangler secret put <name>`), at least 32 characters",
  scopes: "requested scopes, a list or a space-separated string",
  subject_prefix:
    "prepended to the provider's subject (default: the id and a vertical bar, e.g. `github|12345`); unique, and not the start of another provider's, a trusted issuer's or `svc|`",
  redirect_uri: "a fixed redirect URI (default `<request origin>/auth/login/<id>/callback`)",
  email_domains:
    "email domains whose users the chooser sends straight to this provider when they type their address (home realm discovery)",
  sealing_secret_env:
    "the name of a Worker secret sealing this provider's tokens and login transactions (default: OIDC_SEALING_SECRET)",
  sealing_secret_previous_env: "that secret's predecessor while it is rotated out",
} as const;

/** The keys of an OpenID Connect provider, each with what it means. */
export const OIDC_PROVIDER_KEYS: KeyTable = Object.freeze({
  ...COMMON_KEYS,
  issuer:
    "the provider's issuer identifier, exactly as its metadata states it (https; http only with PORTCULLIS_ENV=development)",
  client_private_key_env:
    "instead of client_secret_env: the name of the Worker secret holding a private JWK for private_key_jwt (RFC 7523)",
  authorization_params: 'extra authorization-request parameters as a query string, e.g. "prompt=consent"',
  scope_claim: "the ID-token claim whose values become the session's scope",
  roles_claim: 'the ID-token claim whose values become the session\'s roles, e.g. "groups"',
});

/** The keys of a GitHub provider, each with what it means. */
export const GITHUB_PROVIDER_KEYS: KeyTable = Object.freeze({
  ...COMMON_KEYS,
  url: "GitHub's web origin (default \"https://github.com\"); a GitHub Enterprise Server's for one",
  api_url: 'the REST API (default "https://api.github.com", or `<url>/api/v3` for an Enterprise Server)',
  orgs: 'required: the organisations (logins) whose members may sign in, or ["*"] for every GitHub account',
  teams: "whether the user's teams become roles too (`acme/platform`), beside the organisations (default true)",
});

const ID = /^[a-z0-9][a-z0-9_-]{0,31}$/;
const PREFIX = /^[\x21-\x7e]{1,64}$/;
const CLIENT_ID = /^[\x21-\x7e]{1,256}$/;
const SECRET_NAME = /^[A-Z][A-Z0-9_]{0,63}$/;
const DOMAIN = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/;
const GITHUB_ORG = /^[a-z0-9](?:[a-z0-9-]{0,38})$/;
const GITHUB_SCOPES = "read:user user:email read:org";
const OIDC_SCOPES = "openid profile email offline_access";

export function fail(problem: string): ConfigError {
  return new ConfigError("LOGIN_PROVIDERS", problem);
}

type Refuse = (problem: string) => ConfigError;

/** The Worker secret a `*_env` key names: set, ≥ 32 characters, not one of the gateway's own settings. */
function namedSecret(env: ConfigEnv, entry: Record<string, unknown>, key: string, at: Refuse): string | undefined {
  const name = entry[key];
  if (name === undefined) return undefined;
  if (typeof name !== "string" || !SECRET_NAME.test(name)) {
    throw at(`"${key}" must name a Worker secret (upper-case letters, digits and "_"), e.g. "GITHUB_CLIENT_SECRET"`);
  }
  return namedSecretValue(env, name, key, at);
}

function stringList(value: unknown, key: string, accept: RegExp, at: Refuse, lower = true): readonly string[] {
  if (!Array.isArray(value) || value.length > 64) throw at(`"${key}" must be a list of at most 64 values`);
  const list = value.map((item) => (typeof item === "string" && lower ? item.toLowerCase() : item));
  for (const item of list) {
    if (typeof item !== "string" || !accept.test(item))
      throw at(`"${key}" has ${JSON.stringify(item)}, which is not valid`);
  }
  return Object.freeze([...new Set(list as string[])]);
}

function sealingSecretsOf(env: ConfigEnv, entry: Record<string, unknown>, shared: SealingSecrets, at: Refuse) {
  const current = namedSecret(env, entry, "sealing_secret_env", at);
  if (current === undefined) {
    if (entry.sealing_secret_previous_env !== undefined) {
      throw at(
        '"sealing_secret_previous_env" needs "sealing_secret_env" (the default OIDC_SEALING_SECRET rotates with OIDC_SEALING_SECRET_PREVIOUS)',
      );
    }
    return shared;
  }
  const previous = namedSecret(env, entry, "sealing_secret_previous_env", at);
  return Object.freeze({ current, previous: previous === current ? undefined : previous });
}

function githubOf(
  entry: Record<string, unknown>,
  mode: GatewayMode,
  at: Refuse,
): { web: string; github: GitHubLoginConfig } {
  const web = new URL(
    httpsUrlOf("LOGIN_PROVIDERS", typeof entry.url === "string" ? entry.url : "https://github.com", mode),
  );
  if (web.pathname !== "/" || web.search || web.hash || web.username)
    throw at('"url" must be an origin, like "https://github.example.com"');
  if (entry.url !== undefined && typeof entry.url !== "string") throw at('"url" must be a string');
  const defaultApi = web.origin === "https://github.com" ? "https://api.github.com" : `${web.origin}/api/v3`;
  if (entry.api_url !== undefined && typeof entry.api_url !== "string") throw at('"api_url" must be a string');
  const apiUrl = httpsUrlOf("LOGIN_PROVIDERS", (entry.api_url as string | undefined) ?? defaultApi, mode).replace(
    /\/+$/,
    "",
  );
  if (entry.orgs === undefined) {
    throw at('needs "orgs": the organisations whose members may sign in, or ["*"] to let every GitHub account in');
  }
  const anyone = Array.isArray(entry.orgs) && entry.orgs.length === 1 && entry.orgs[0] === "*";
  const orgs = anyone ? "any" : stringList(entry.orgs, "orgs", GITHUB_ORG, at);
  if (orgs !== "any" && orgs.length === 0) throw at('"orgs" must name at least one organisation, or be ["*"]');
  if (entry.teams !== undefined && typeof entry.teams !== "boolean") throw at('"teams" must be true or false');
  return { web: web.origin, github: Object.freeze({ apiUrl, orgs, teams: entry.teams !== false }) };
}

export function parseProvider(
  item: unknown,
  index: number,
  env: ConfigEnv,
  mode: GatewayMode,
  shared: SharedLoginSettings,
): OidcConfig {
  if (typeof item !== "object" || item === null || Array.isArray(item)) {
    throw fail(`provider ${index} must be an object: { id, issuer, client_id, client_secret_env, … }`);
  }
  const entry = item as Record<string, unknown>;
  const id = entry.id;
  const name = `provider ${index}${typeof id === "string" ? ` (${id})` : ""}`;
  const at: Refuse = (problem) => fail(`${name}: ${problem}`);
  if (typeof id !== "string" || !ID.test(id)) {
    throw at('"id" must be lower-case letters, digits, "-" and "_", at most 32, e.g. "github"');
  }
  if (id === OIDC_SETTINGS_PROVIDER_ID) throw at(`"id" ${id} is the OIDC_* settings' provider; choose another`);
  const kind = entry.kind ?? "oidc";
  if (kind !== "oidc" && kind !== "github") throw at('"kind" must be "oidc" or "github"');
  const unknown = unknownKey(entry, kind === "github" ? GITHUB_PROVIDER_KEYS : OIDC_PROVIDER_KEYS);
  if (unknown !== undefined) throw at(unknown);

  const clientId = entry.client_id;
  if (typeof clientId !== "string" || !CLIENT_ID.test(clientId))
    throw at('needs a "client_id": visible characters, no spaces');
  const label = entry.label ?? id;
  if (typeof label !== "string" || label.trim() === "" || label.length > 64)
    throw at('"label" must be 1 to 64 characters');
  const subjectPrefix = entry.subject_prefix ?? `${id}|`;
  if (typeof subjectPrefix !== "string" || !PREFIX.test(subjectPrefix)) {
    throw at('"subject_prefix" must be 1 to 64 visible characters without spaces, e.g. "github|"');
  }
  const emailDomains =
    entry.email_domains === undefined
      ? Object.freeze([])
      : stringList(entry.email_domains, "email_domains", DOMAIN, at);
  const redirectUri =
    entry.redirect_uri === undefined
      ? undefined
      : typeof entry.redirect_uri === "string"
        ? httpsUrlOf("LOGIN_PROVIDERS", entry.redirect_uri, mode)
        : (() => {
            throw at('"redirect_uri" must be a URL');
          })();
  const clientPrivateKeyText = kind === "oidc" ? namedSecret(env, entry, "client_private_key_env", at) : undefined;
  let clientPrivateKey: OidcConfig["clientPrivateKey"];
  if (clientPrivateKeyText !== undefined) {
    let raw: unknown;
    try {
      raw = JSON.parse(clientPrivateKeyText);
    } catch {
      throw at(`"client_private_key_env" names a secret that is not a JSON private JWK`);
    }
    clientPrivateKey = privateKeyOf(raw, (problem) => at(`"client_private_key_env": ${problem}`));
  }
  const clientSecret = namedSecret(env, entry, "client_secret_env", at);
  if ((clientSecret === undefined) === (clientPrivateKey === undefined)) {
    throw at(
      kind === "github" ? 'needs "client_secret_env"' : 'needs one of "client_secret_env" and "client_private_key_env"',
    );
  }
  const scopesValue = entry.scopes ?? (kind === "github" ? GITHUB_SCOPES : OIDC_SCOPES);
  if (typeof scopesValue !== "string" && !Array.isArray(scopesValue)) throw at('"scopes" must be a list or a string');
  const scopes = scopesOf(scopesValue, kind === "oidc", (problem) => at(`"scopes" ${problem}`));
  const claim = (key: "scope_claim" | "roles_claim"): string | undefined => {
    const value = entry[key];
    if (value !== undefined && !isClaimName(value)) throw at(`"${key}" must be a claim name`);
    return value as string | undefined;
  };

  let issuer: string;
  let insecure: boolean;
  let github: GitHubLoginConfig | undefined;
  if (kind === "github") {
    const parsed = githubOf(entry, mode, at);
    issuer = parsed.web;
    insecure = !issuer.startsWith("https:") || !parsed.github.apiUrl.startsWith("https:");
    github = parsed.github;
  } else {
    if (typeof entry.issuer !== "string") throw at('needs an "issuer"');
    ({ issuer, insecure } = issuerOf(entry.issuer, mode, (problem) => at(`"issuer" ${problem}`)));
  }
  const params = entry.authorization_params;
  if (params !== undefined && typeof params !== "string") throw at('"authorization_params" must be a query string');

  return Object.freeze({
    id,
    kind,
    label: label.trim(),
    fromOidcSettings: false,
    emailDomains,
    github,
    issuer,
    allowInsecureRequests: insecure,
    clientId,
    clientSecret,
    clientPrivateKey,
    scopes,
    authorizationParams: authorizationParamsOf(params, (problem) => at(`"authorization_params" ${problem}`)),
    scopeClaim: claim("scope_claim"),
    // GitHub's organisations and teams arrive as `groups` (github/github-login.ts).
    rolesClaim: kind === "github" ? "groups" : claim("roles_claim"),
    subjectPrefix,
    redirectUri,
    ...shared,
    sealingSecrets: sealingSecretsOf(env, entry, shared.sealingSecrets, at),
  });
}
