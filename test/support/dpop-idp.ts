/**
 * A real OpenID Provider (panva's oidc-provider 9.x) on 127.0.0.1 that issues DPoP-bound
 * access tokens, for the interop tests: `features.dPoP` with server nonces required
 * (`nonceSecret`, `requireNonce`), client credentials, and resource indicators whose resource
 * server takes JWT access tokens (RFC 9068) signed ES256, so each token carries `cnf.jkt`.
 *
 *   const idp = await startDpopIdp();
 *   const gateway = await startGateway({ vars: idp.gatewayVars() });   // verify-only: JWKS_URL
 *   const { accessToken } = await idp.clientCredentialsToken(dpopKey);  // handles use_dpop_nonce
 *
 * Its configuration is its own (examples/demo-idp serves the login tests, with no DPoP):
 * one confidential client (`client_secret_basic`) allowed only client_credentials, bound
 * tokens required of it (`dpop_bound_access_tokens`).
 */
import { randomBytes } from "node:crypto";
import type http from "node:http";
import { exportJWK, generateKeyPair } from "jose";
import Provider from "oidc-provider";
import { type DpopKey, signProof } from "./dpop";
import { loopbackServer } from "./loopback-server";
import { memoryAdapter } from "./oidc-idp";

/** The resource indicator of the API behind the gateway. */
export const DPOP_RESOURCE = "https://api.test/";
/** The `aud` of the tokens the IdP issues for it: the gateway's TOKEN_AUDIENCE. */
export const DPOP_AUDIENCE = "test-api";
export const DPOP_CLIENT_ID = "dpop-service";

export interface IdpTokenRequest {
  readonly status: number;
  readonly error?: string;
}

export interface IssuedToken {
  readonly accessToken: string;
  readonly tokenType: string;
  /** The answers of the token endpoint to get it: the nonce challenge first, then the token. */
  readonly attempts: readonly IdpTokenRequest[];
  /** The proof the IdP accepted for it (htu: the IdP's token endpoint). */
  readonly proof: string;
}

export interface DpopIdp {
  readonly issuer: string;
  readonly provider: Provider;
  /** Every answer of the token endpoint, in order. */
  readonly tokenRequests: IdpTokenRequest[];
  /** The settings of a verify-only gateway that accepts this IdP's tokens. */
  gatewayVars(): Record<string, string>;
  /** What a verify-only gateway goes without: no key to sign with, no login. */
  gatewayOmits(): string[];
  /**
   * A client_credentials token bound to `key`, as a DPoP client gets one: a proof without a
   * nonce, the IdP's 400 use_dpop_nonce with a DPoP-Nonce, the proof again with it.
   */
  clientCredentialsToken(key: DpopKey, scope?: string): Promise<IssuedToken>;
  close(): Promise<void>;
}

export async function startDpopIdp(): Promise<DpopIdp> {
  const clientSecret = randomBytes(32).toString("base64url");
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  const signingJwk = { ...(await exportJWK(privateKey)), kid: "dpop-idp-es256", alg: "ES256", use: "sig" };

  let handler: http.RequestListener = (_request, response) => void response.writeHead(503).end();
  const loopback = await loopbackServer((request, response) => handler(request, response));
  const issuer = loopback.origin;

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: DPOP_CLIENT_ID,
        client_secret: clientSecret,
        grant_types: ["client_credentials"],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: "client_secret_basic",
        // The IdP's only key is ES256 (the default, RS256, would need an RSA key it has not).
        id_token_signed_response_alg: "ES256",
        dpop_bound_access_tokens: true,
      },
    ],
    adapter: memoryAdapter(new Map()),
    jwks: { keys: [signingJwk] },
    ttl: { ClientCredentials: 300 },
    cookies: { keys: [randomBytes(32).toString("base64url")] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      dPoP: { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => DPOP_RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => {
          if (resource !== DPOP_RESOURCE) throw new Error(`unknown resource ${resource}`);
          return {
            scope: "read write",
            audience: DPOP_AUDIENCE,
            accessTokenFormat: "jwt",
            accessTokenTTL: 300,
            jwt: { sign: { alg: "ES256" } },
          };
        },
      },
    },
  });
  const tokenRequests: IdpTokenRequest[] = [];
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.path !== "/token" || ctx.method !== "POST") return;
    const body = (ctx.body ?? {}) as Record<string, unknown>;
    tokenRequests.push({ status: ctx.status, ...(typeof body.error === "string" ? { error: body.error } : {}) });
  });
  handler = provider.callback();

  const tokenEndpoint = `${issuer}/token`;
  const requestToken = async (key: DpopKey, scope: string, nonce: string | undefined) => {
    const proof = await signProof(key, { htm: "POST", htu: tokenEndpoint, ...(nonce !== undefined ? { nonce } : {}) });
    const response = await fetch(tokenEndpoint, {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`${DPOP_CLIENT_ID}:${clientSecret}`).toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded",
        dpop: proof,
      },
      body: new URLSearchParams({ grant_type: "client_credentials", scope, resource: DPOP_RESOURCE }),
    });
    const body = (await response.json()) as Record<string, unknown>;
    return { response, body, proof };
  };

  return {
    issuer,
    provider,
    tokenRequests,
    gatewayVars: () => ({ JWKS_URL: `${issuer}/jwks`, TOKEN_ISSUER: issuer, TOKEN_AUDIENCE: DPOP_AUDIENCE }),
    gatewayOmits: () => ["SIGNING_KEYS", "CREDENTIAL_CHECK_SECRET"],
    clientCredentialsToken: async (key, scope = "read write") => {
      const attempts: IdpTokenRequest[] = [];
      let nonce: string | undefined;
      // At most the challenge and the retry; a third answer would be a loop, not a nonce.
      for (let attempt = 0; attempt < 2; attempt += 1) {
        const { response, body, proof } = await requestToken(key, scope, nonce);
        attempts.push({ status: response.status, ...(typeof body.error === "string" ? { error: body.error } : {}) });
        if (response.status === 200) {
          return { accessToken: String(body.access_token), tokenType: String(body.token_type), attempts, proof };
        }
        const offered = response.headers.get("dpop-nonce");
        if (body.error !== "use_dpop_nonce" || offered === null) break;
        nonce = offered;
      }
      throw new Error(`the IdP issued no token: ${JSON.stringify(attempts)}`);
    },
    close: () => loopback.stop(),
  };
}
