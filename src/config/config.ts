/**
 * The gateway's settings, parsed once from the Worker's env into a frozen object.
 * Types only; parsing lives in `parse-config.ts`.
 */
import type { JSONWebKeySet, JWK } from "jose";
import type { PathOptions } from "../canonical/canonical-path";
import type { RouteRule } from "../policy/route-policy";

export type GatewayMode = "production" | "development";
export type SameSite = "Strict" | "Lax" | "None";

export type UpstreamTarget =
  | { readonly kind: "none" }
  | { readonly kind: "binding" }
  | { readonly kind: "url"; readonly origin: string; readonly basePath: string };

/**
 * MAX_SESSIONS_PER_USER when it is not set: more than anyone's browsers and devices, few
 * enough that a script that logs in without logging out, or a stolen password used in a
 * loop, cannot pile up sessions without end. The list is then at most two pages and a
 * mass logout four alarm batches (docs/configuration.md).
 */
export const DEFAULT_MAX_SESSIONS_PER_USER = 100;

export interface GatewayConfig {
  readonly mode: GatewayMode;
  readonly realm: string;
  readonly upstream: UpstreamTarget;
  readonly upstreamTimeoutMs: number;

  readonly issuer: string;
  readonly audience: string;
  /** Seconds. */
  readonly accessTokenTtl: number;
  readonly refreshTokenTtl: number;
  readonly sessionIdleTtl: number;
  readonly refreshGraceSeconds: number;
  readonly clockToleranceSeconds: number;

  /** Private JWKs Portcullis signs with; each has `kid` and `alg`. */
  readonly signingKeys: readonly JWK[];
  /**
   * Public JWKs of retired signing keys (SIGNING_KEYS_PREVIOUS): they verify our tokens and
   * stay published until they are deleted, but never sign. None repeats a kid of `signingKeys`.
   */
  readonly previousSigningKeys: readonly JWK[];
  /** The kid of the key that signs: ACTIVE_SIGNING_KID, or the first of `signingKeys`. */
  readonly activeSigningKid: string | undefined;
  /**
   * ACTIVE_SIGNING_KID as configured, when it names no key of SIGNING_KEYS (the two deploy
   * apart): the first key signs instead, and the key ring logs it at error level.
   */
  readonly activeSigningKidFallback: string | undefined;
  /** Extra public keys accepted for verification (tokens from another issuer of yours). */
  readonly verifyJwks: JSONWebKeySet | undefined;
  readonly jwksUrl: string | undefined;
  readonly jwksCacheSeconds: number;
  readonly jwksCooldownSeconds: number;
  /** HS256 shared secret, as the seed design's backend uses (`ACCESS_SECRET`). */
  readonly accessSecret: string | undefined;
  /**
   * TRUSTED_ISSUERS: other issuers whose bearer tokens are verified with their own keys,
   * audience and algorithms, and accepted only on routes that name them (docs/identities.md).
   */
  readonly trustedIssuers: readonly TrustedIssuerConfig[];

  readonly routes: readonly RouteRule[];
  /** What request paths may hold beyond the canonical form (ALLOW_PATH_SEMICOLONS, …). */
  readonly paths: PathOptions;
  /**
   * The upstream may turn a POST into another method from its body (`_method`, as Laravel,
   * Rails and Symfony do): a POST is then judged by the strictest rule of every method
   * (UPSTREAM_METHOD_OVERRIDE = "body", the default; "none" judges a POST as a POST).
   */
  readonly postMayOverride: boolean;
  readonly revocationCacheSeconds: number;
  /**
   * Where a refresh-token rotation is recorded before the request is forwarded: "ledger"
   * (default: a revocation-ledger entry) or "session" (the session object alone).
   */
  readonly rotationRecord: "ledger" | "session";
  /**
   * Sessions a subject may hold at once; a login beyond it ends the oldest. 0: no cap.
   * Default DEFAULT_MAX_SESSIONS_PER_USER; it applies where SUBJECT_SESSIONS is bound.
   */
  readonly maxSessionsPerUser: number;
  /** How often a relayed WebSocket re-checks revocation. */
  readonly websocketRevalidateSeconds: number;

  /**
   * PASSWORD_LOGIN: POST /auth/login is served (true) or answers 404 (false); unset, it is
   * served where a credential check can answer it (its secret, or a check in code).
   */
  readonly passwordLogin: boolean | undefined;
  /** Login and refresh are rate limited (RATE_LIMITS); the bindings are then required in production. */
  readonly rateLimits: boolean;
  readonly credentialCheckPath: string;
  readonly credentialCheckSecret: string | undefined;
  readonly cookieSameSite: SameSite;
  /** Also hand the access token out in an HttpOnly cookie (browser, backend-managed refresh). */
  readonly accessCookie: boolean;
  readonly operatorToken: string | undefined;
  /** OPERATOR_TOKEN_PREVIOUS: the token being rotated out, still accepted until it is deleted. */
  readonly operatorTokenPrevious: string | undefined;
  /** Browser origins allowed to call with credentials (CORS) and to change state (CSRF). */
  readonly allowedOrigins: readonly string[];
  readonly revokeClient: { readonly id: string; readonly secret: string } | undefined;
  /**
   * Login through a provider: the default one (the OIDC_* settings', else the first of
   * LOGIN_PROVIDERS); undefined when none is configured. Its loginRedirect,
   * forwardIdpToken and refreshSkewSeconds are every provider's (they are OIDC_* settings).
   */
  readonly oidc: OidcConfig | undefined;
  /**
   * Every login provider, the OIDC_* settings' first, then LOGIN_PROVIDERS in order; `oidc`
   * is the first of them. Empty when login through a provider is off.
   */
  readonly loginProviders: readonly OidcConfig[];
  /** Sender-constrained tokens (RFC 9449; docs/dpop.md). */
  readonly dpop: DpopConfig;
  /** A signed assertion on every request forwarded on a protected route; undefined when off. */
  readonly upstreamAssertion: UpstreamAssertionConfig | undefined;
  /** SERVICE_TOKEN_HEADER: service clients may send their id and secret in this header; undefined when off. */
  readonly serviceTokenHeader: ServiceTokenHeaderConfig | undefined;
}

/** SERVICE_TOKEN_HEADER (config/parse-service-token-header.ts, docs/identities.md). */
export interface ServiceTokenHeaderConfig {
  /** The name as configured ("Portcullis-Service-Token"): for the 401's challenge. */
  readonly name: string;
  /** Its key (canonical/header-names.ts): lower case, what requests are read by. */
  readonly key: string;
}

/** One entry of TRUSTED_ISSUERS (config/parse-trusted-issuers.ts). */
export interface TrustedIssuerConfig {
  /** The short name route rules use (`issuers = ["github-actions"]`). */
  readonly id: string;
  /** The exact `iss` of its tokens. */
  readonly issuer: string;
  /** Its JWKS; undefined for an issuer whose tokens are only introspected. */
  readonly jwksUrl: string | undefined;
  /** The token's `aud` must hold one of these. */
  readonly audience: readonly string[];
  /** The `alg`s accepted (asymmetric only). */
  readonly algorithms: readonly string[];
  /** Prepended to the token's `sub`, so its subjects never collide with others. */
  readonly subjectPrefix: string;
  /** The claims whose values become the scopes and the roles. */
  readonly scopeClaim: string;
  readonly rolesClaim: string;
  /** Seconds: a token whose `iat` is older is refused. */
  readonly maxTokenAge: number | undefined;
  /** RFC 7662 introspection of its opaque tokens; undefined when off. */
  readonly introspection: IntrospectionConfig | undefined;
}

/** A trusted issuer's `introspection` (config/parse-introspection.ts, docs/identities.md). */
export interface IntrospectionConfig {
  /** The provider's introspection endpoint. */
  readonly url: string;
  /** Only in development mode, for an `http:` endpoint (oauth4webapi's allowInsecureRequests). */
  readonly allowInsecureRequests: boolean;
  readonly clientId: string;
  /** Read from the Worker secret `client_secret_env` names; sent with client_secret_basic. */
  readonly clientSecret: string;
  /** Seconds an active answer is remembered at most (it is never kept past the token's `exp`). */
  readonly cacheSeconds: number;
  /** Seconds an inactive answer is remembered, so a flood of made-up tokens asks the provider once each. */
  readonly negativeCacheSeconds: number;
  /** How long one call to the endpoint may take. */
  readonly timeoutMs: number;
}

/** UPSTREAM_ASSERTION (docs/upstream-assertion.md). */
export interface UpstreamAssertionConfig {
  /** `aud`: UPSTREAM_ASSERTION_AUDIENCE, or the upstream's origin. */
  readonly audience: string;
  /** How long an assertion is good for, in seconds. */
  readonly ttlSeconds: number;
  /** UPSTREAM_ASSERTION_CLAIMS: names of the access token's claims copied into it, when the token has them. */
  readonly claims: readonly string[];
}

/** DPoP settings (docs/dpop.md). */
export interface DpopConfig {
  /** DPOP_SESSIONS: "required" refuses a login or refresh that brings no DPoP proof. */
  readonly sessions: "optional" | "required";
  /** DPOP_PROOF_MAX_AGE: how old (seconds) a proof's `iat` may be. */
  readonly proofMaxAgeSeconds: number;
  /** DPOP_NONCE_SECRET when DPOP_NONCE is on: the first makes nonces, all are accepted. Undefined: no nonces. */
  readonly nonceSecrets: readonly string[] | undefined;
}

/**
 * The secrets that seal: new seals use `current`; a seal is opened with `current`, else
 * with `previous`, so OIDC_SEALING_SECRET can be rotated without ending every session
 * (docs/configuration.md, "Rotating the sealing secret").
 */
export interface SealingSecrets {
  readonly current: string;
  readonly previous: string | undefined;
}

/** A login provider's kind: an OpenID Connect provider, or GitHub (plain OAuth 2.0). */
export type LoginProviderKind = "oidc" | "github";

/** GitHub's side of a `kind = "github"` login provider (config/parse-login-providers.ts). */
export interface GitHubLoginConfig {
  /** The REST API's base: https://api.github.com, or `<server>/api/v3` for GitHub Enterprise Server. */
  readonly apiUrl: string;
  /** Organisations (lower-case logins) a user must belong to; "any" lets every GitHub account sign in. */
  readonly orgs: readonly string[] | "any";
  /** Teams become roles too (`acme/platform`), beside the organisations. */
  readonly teams: boolean;
}

/**
 * One login provider Portcullis is a confidential client of (docs/configuration.md): the
 * OIDC_* settings' (id "oidc"), and each entry of LOGIN_PROVIDERS.
 */
export interface OidcConfig {
  /** The short name in its paths (`/auth/login/<id>`) and in a session's record. */
  readonly id: string;
  readonly kind: LoginProviderKind;
  /** What the login chooser's button says. */
  readonly label: string;
  /** True for the OIDC_* settings' provider: it keeps the /auth/oidc/* paths too. */
  readonly fromOidcSettings: boolean;
  /** Email domains (lower-case) whose users the chooser sends straight here (home realm). */
  readonly emailDomains: readonly string[];
  /** GitHub's API, for `kind = "github"`; undefined otherwise. */
  readonly github: GitHubLoginConfig | undefined;
  /**
   * The issuer identifier; metadata is discovered from it. For GitHub (no discovery), its
   * web origin (https://github.com or the Enterprise Server's).
   */
  readonly issuer: string;
  /** Only in development mode, for an `http:` issuer (oauth4webapi's allowInsecureRequests). */
  readonly allowInsecureRequests: boolean;
  readonly clientId: string;
  /** Sent with client_secret_basic (when no private key is configured). */
  readonly clientSecret: string | undefined;
  /** A private JWK (with `kid` and `alg`): the client authenticates with private_key_jwt instead. */
  readonly clientPrivateKey: Readonly<JWK> | undefined;
  readonly scopes: readonly string[];
  /** Extra authorization-request parameters (e.g. prompt=consent, access_type=offline, audience). */
  readonly authorizationParams: Readonly<Record<string, string>>;
  /** ID-token claim whose values become the session's `scope` (none when undefined). */
  readonly scopeClaim: string | undefined;
  /** ID-token claim whose values become the session's `roles`, e.g. "groups". */
  readonly rolesClaim: string | undefined;
  /** Prepended to the IdP's `sub`, so its subjects cannot collide with credential-check ones. */
  readonly subjectPrefix: string;
  /** Seal the IdP's tokens at rest and the login transaction cookie (see SealingSecrets). */
  readonly sealingSecrets: SealingSecrets;
  /** Fixed redirect_uri; by default `<gateway origin>/auth/oidc/callback`. */
  readonly redirectUri: string | undefined;
  readonly postLogoutRedirectUri: string | undefined;
  /** Send the IdP's access token upstream as `Authorization: Bearer` instead of ours. */
  readonly forwardIdpToken: boolean;
  /** Refresh the IdP's access token when it expires within this many seconds. */
  readonly refreshSkewSeconds: number;
  /** Unauthenticated browser navigations get a 302 to the login (route rules may override). */
  readonly loginRedirect: boolean;
}
