/**
 * A redeployable gateway (deployment.ts) that logs in through the test IdP (oidc-idp.ts),
 * configured as oidc-gateway.ts configures one, and OIDC sessions for rotation tests.
 * Every deploy registers its new URL at the IdP, with `clientMetadata()` on top (e.g. the
 * client secret the IdP holds at that moment).
 */
import type { ClientMetadata } from "oidc-provider";
import { expect } from "vitest";
import { type Deployment, startDeployment } from "./deployment";
import type { Gateway } from "./gateway";
import { type LiveSession, liveSession } from "./live-sessions";
import { TEST_SEALING_SECRET } from "./oidc-gateway";
import { startIdp, type TestIdp } from "./oidc-idp";
import { loginThroughIdp } from "./oidc-login";
import { REFRESH_COOKIE, refreshCookieHeader, setCookie } from "./session-helpers";

export interface OidcDeployment {
  readonly idp: TestIdp;
  readonly deployment: Deployment;
  close(): Promise<void>;
}

export async function startOidcDeployment(
  settings: Record<string, unknown>,
  clientMetadata: () => Partial<ClientMetadata> = () => ({}),
): Promise<OidcDeployment> {
  const idp = await startIdp();
  const deployment = await startDeployment(
    {
      // Development mode: only it accepts the test IdP's http: issuer.
      PORTCULLIS_ENV: "development",
      ...idp.gatewayVars(),
      OIDC_SEALING_SECRET: TEST_SEALING_SECRET,
      OIDC_ROLES_CLAIM: "groups",
      // oidc-provider issues a refresh token only after an explicit consent.
      OIDC_AUTHORIZATION_PARAMS: "prompt=consent",
      ...settings,
    },
    { afterStart: (gateway) => idp.registerGateway(gateway.url, clientMetadata()) },
  );
  return {
    idp,
    deployment,
    close: async () => {
      await deployment.close();
      await idp.close();
    },
  };
}

/** Log in through the IdP as `user`; the first access token comes from POST /auth/refresh, as a page gets it. */
export async function oidcSession(gateway: Gateway, user: string): Promise<LiveSession> {
  const login = await loginThroughIdp(gateway.url, { login: user });
  // The callback's answer: 303 to return_to, or a page of ours going on there; a session either way.
  expect(login.response?.status).toBeLessThan(400);
  const cookie = setCookie(login.response as Response, REFRESH_COOKIE)?.value ?? "";
  expect(cookie).not.toBe("");
  const refreshed = await gateway.fetch("/auth/refresh", {
    method: "POST",
    headers: { cookie: refreshCookieHeader(cookie) },
  });
  expect(refreshed.status).toBe(200);
  const { access_token } = (await refreshed.json()) as { access_token: string };
  return liveSession(`oidc ${user}`, access_token, setCookie(refreshed, REFRESH_COOKIE)?.value ?? "");
}
