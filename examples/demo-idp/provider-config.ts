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
import type { ClientMetadata, Configuration } from "oidc-provider";

export const IDP_CLIENT_ID = "portcullis";
/** Where the gateway's OIDC endpoints live, relative to its origin. */
export const CALLBACK_PATH = "/auth/oidc/callback";
export const BACKCHANNEL_PATH = "/auth/oidc/backchannel-logout";

/** The claims of a login name at the IdP, beyond `sub`. */
export type AccountClaims = (sub: string) => Record<string, unknown>;

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
    scopes: ["openid", "offline_access", "profile", "email"],
    claims: { openid: ["sub", "groups", "roles"], profile: ["name"], email: ["email", "email_verified"] },
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
