/**
 * The oidc-provider configuration of Portcullis's local identity providers: the demo IdP that
 * `npm run dev` starts (server.ts beside this file) and the tests' IdP (test/support/oidc-idp.ts).
 * One place, so the IdP a newcomer signs in at behaves like the one the tests prove things on:
 * devInteractions (any login name and password), PKCE required, refresh tokens (scope
 * offline_access AND prompt=consent), rotated on every use (a reused one is invalid_grant and
 * revokes the grant), RP-initiated and back-channel logout, one confidential client using
 * client_secret_basic whose ID tokens carry `sid`. ID tokens carry the scopes' claims
 * (conformIdTokenClaims off) and, with scope openid, `groups` and `roles`.
 * No relative imports: Node runs this file directly (type stripping) for `npm run dev`.
 */
import { randomBytes } from "node:crypto";
import { exportJWK, generateKeyPair, type JWK } from "jose";
import type Provider from "oidc-provider";
import { type ClientMetadata, type Configuration, interactionPolicy } from "oidc-provider";

export const IDP_CLIENT_ID = "portcullis";
/** Where the gateway's OIDC endpoints live, relative to its origin. */
export const CALLBACK_PATH = "/auth/oidc/callback";
export const BACKCHANNEL_PATH = "/auth/oidc/backchannel-logout";

/** The claims of a login name at the IdP, beyond `sub`. */
export type AccountClaims = (sub: string) => Record<string, unknown>;

/** How a sign-in went, as the IdP records it: the level (`acr`) and the methods (`amr`). */
export interface SignInResult {
  readonly acr?: string;
  readonly amr?: string[];
  /** When the user signed in, seconds since the epoch (default now): an older single sign-on. */
  readonly ts?: number;
}

/** What the relying party asked of this sign-in (a step-up: `acr_values`, `max_age`). */
export interface SignInAsked {
  readonly acrValues: readonly string[] | undefined;
  readonly maxAge: number | undefined;
}

/** A password sign-in's level, and the level a sign-in asked for `acr_values` performs. */
export const PASSWORD_ACR = "urn:portcullis:demo:pwd";
export const MFA_ACR = "urn:portcullis:demo:mfa";

/**
 * The demo's sign-in: a password, and when the gateway asks for a stronger level
 * (`acr_values`, a route's step-up) a pretend second factor, so the first value asked for
 * is met. A real IdP would prompt for the factor here.
 */
export const demoSignIn = (_login: string, asked: SignInAsked): SignInResult =>
  asked.acrValues === undefined
    ? { acr: PASSWORD_ACR, amr: ["pwd"] }
    : { acr: asked.acrValues[0], amr: ["pwd", "otp"] };

/**
 * Makes the provider record `signIn`'s acr and amr with every login, and prompt for a login
 * again when `acr_values` asks for a level the current session at the IdP was not signed in
 * at (oidc-provider by itself would reuse the session: acr_values are voluntary in OIDC).
 */
export function recordSignIns(provider: Provider, signIn: (login: string, asked: SignInAsked) => SignInResult): void {
  const finished = provider.interactionFinished.bind(provider);
  provider.interactionFinished = async (req, res, result, options) => {
    const login = (result as { login?: { accountId: string } }).login;
    if (login !== undefined) {
      const { params } = await provider.interactionDetails(req, res);
      const acrValues = typeof params.acr_values === "string" ? params.acr_values.split(" ") : undefined;
      // max_age=0 is prompt=login (OIDC Core §3.1.2.1), which is how the provider passes it on.
      const prompt = typeof params.prompt === "string" ? params.prompt.split(" ") : [];
      const maxAge =
        typeof params.max_age === "number" || typeof params.max_age === "string"
          ? Number(params.max_age)
          : prompt.includes("login")
            ? 0
            : undefined;
      Object.assign(login, signIn(login.accountId, { acrValues, maxAge }));
    }
    return finished(req, res, result, options);
  };
}

/** The login prompt, also when the session's acr is not one of the `acr_values` asked for. */
function interactionsWithStepUp(): Configuration["interactions"] {
  const policy = interactionPolicy.base();
  const login = policy.get("login");
  login?.checks.add(
    new interactionPolicy.Check("acr_values", "a stronger sign-in was asked for", (ctx) => {
      const asked = ctx.oidc.params?.acr_values;
      const acr = (ctx.oidc.session as { acr?: string } | undefined)?.acr;
      if (typeof asked !== "string" || ctx.oidc.result?.login) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
      return asked.split(" ").includes(String(acr))
        ? interactionPolicy.Check.NO_NEED_TO_PROMPT
        : interactionPolicy.Check.REQUEST_PROMPT;
    }),
  );
  return { policy };
}

/** The provider configuration shared by the test IdP and the demo IdP of `npm run dev`. */
export function idpConfiguration(options: {
  readonly clients: ClientMetadata[];
  readonly signingJwk: JWK;
  readonly cookieKey: string;
  readonly accessTokenTtl: () => number;
  /** Claims of a login name beyond the defaults (name, email, `groups: ["users"]`, `roles: []`). */
  readonly claims?: AccountClaims;
  readonly adapter?: Configuration["adapter"];
}): Configuration {
  return {
    ...(options.adapter ? { adapter: options.adapter } : {}),
    clients: options.clients,
    jwks: { keys: [options.signingJwk as never] },
    cookies: { keys: [options.cookieKey] },
    pkce: { required: () => true },
    rotateRefreshToken: true,
    conformIdTokenClaims: false,
    responseTypes: ["code"],
    interactions: interactionsWithStepUp(),
    // The levels a sign-in can be at (the provider leaves `acr` out of ID tokens otherwise).
    acrValues: [PASSWORD_ACR, MFA_ACR],
    scopes: ["openid", "offline_access", "profile", "email"],
    claims: {
      // How and when the user signed in (step-up: acr, amr, auth_time), in every ID token.
      openid: ["sub", "groups", "roles", "acr", "amr", "auth_time"],
      profile: ["name"],
      email: ["email", "email_verified"],
    },
    features: {
      devInteractions: { enabled: true },
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      revocation: { enabled: true },
    },
    ttl: {
      AccessToken: () => options.accessTokenTtl(),
      IdToken: 3600,
      AuthorizationCode: 60,
      Interaction: 600,
      Session: 86_400,
      Grant: 86_400,
      RefreshToken: 86_400,
    },
    findAccount: (_ctx, sub) => ({
      accountId: sub,
      claims: () => ({
        sub,
        name: sub,
        email: `${sub}@example.test`,
        email_verified: true,
        groups: ["users"],
        roles: [],
        ...options.claims?.(sub),
      }),
    }),
    // oidc-provider's default fetch refuses loopback addresses (an SSRF guard); the gateway of a
    // test or of `npm run dev` is on 127.0.0.1, so back-channel logout must be allowed to go there.
    fetch: (url, init) => {
      const { dispatcher: _ssrfGuard, ...rest } = (init ?? {}) as RequestInit & { dispatcher?: unknown };
      return fetch(url, rest);
    },
  };
}

/**
 * The confidential client Portcullis is registered as, for a gateway reachable at these origins
 * (callback and post-logout `/` at each; back-channel logout at the first). No origin: a client
 * whose redirect URI is a placeholder, until the caller knows the gateway's port.
 */
export function gatewayClient(clientSecret: string, gatewayOrigins: readonly string[] = []): ClientMetadata {
  const [first] = gatewayOrigins;
  return {
    client_id: IDP_CLIENT_ID,
    client_secret: clientSecret,
    token_endpoint_auth_method: "client_secret_basic",
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    redirect_uris: first
      ? gatewayOrigins.map((origin) => `${origin}${CALLBACK_PATH}`)
      : ["http://127.0.0.1/unregistered"],
    post_logout_redirect_uris: gatewayOrigins.map((origin) => `${origin}/`),
    ...(first ? { backchannel_logout_uri: `${first}${BACKCHANNEL_PATH}` } : {}),
    backchannel_logout_session_required: true,
  };
}

export async function signingKey(): Promise<{ privateJwk: JWK; privateKey: CryptoKey }> {
  const { privateKey } = await generateKeyPair("RS256", { extractable: true });
  const privateJwk = {
    ...(await exportJWK(privateKey)),
    kid: `idp-${randomBytes(4).toString("hex")}`,
    alg: "RS256",
    use: "sig",
  };
  return { privateJwk, privateKey };
}
