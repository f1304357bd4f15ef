/**
 * private_key_jwt client authentication (RFC 7523) at the real test IdP: login and
 * refresh work with OIDC_CLIENT_PRIVATE_KEY instead of a client secret.
 */
import { exportJWK, generateKeyPair } from "jose";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type OidcSetup, startOidcGateway } from "../support/oidc-gateway";
import { continuesTo, loginThroughIdp } from "../support/oidc-login";
import { REFRESH_COOKIE, refreshCookieHeader, setCookie } from "../support/session-helpers";

let setup: OidcSetup;
let publicJwk: Record<string, unknown>;

beforeAll(async () => {
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  const privateJwk = { ...(await exportJWK(privateKey)), kid: "gateway-client-key", alg: "ES256" };
  publicJwk = { ...(await exportJWK(publicKey)), kid: "gateway-client-key", alg: "ES256", use: "sig" };
  setup = await startOidcGateway({
    vars: { OIDC_CLIENT_PRIVATE_KEY: JSON.stringify(privateJwk), OIDC_REFRESH_SKEW_SECONDS: "3600" },
    gateway: { omit: ["OIDC_CLIENT_SECRET"] },
  });
  await setup.idp.registerGateway(setup.gateway.url, {
    token_endpoint_auth_method: "private_key_jwt",
    jwks: { keys: [publicJwk] },
  } as never);
});
afterAll(() => setup.close());

it("logs in and refreshes at the provider with a signed client assertion", async () => {
  const { gateway, idp } = setup;
  const login = await loginThroughIdp(gateway.url, { login: "keyholder" });
  expect(await continuesTo(login.response)).toBeDefined();
  expect(idp.countTokenRequests("authorization_code", "ok")).toBe(1);
  const refreshToken = setCookie(login.response as Response, REFRESH_COOKIE)?.value ?? "";
  const refreshed = await gateway.fetch("/auth/refresh", {
    method: "POST",
    headers: { cookie: refreshCookieHeader(refreshToken) },
  });
  expect(refreshed.status).toBe(200);
  expect(idp.countTokenRequests("refresh_token", "ok")).toBe(1);
});
