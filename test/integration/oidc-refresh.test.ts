/**
 * The provider's tokens at the edge: refreshed inside the session's Durable Object once
 * per session however many requests race (the test IdP rotates refresh tokens, so a
 * second refresh with the same token would be invalid_grant and kill the grant), ended
 * with the session when the provider ends the grant, kept when the provider is down, and
 * forwarded upstream fresh when OIDC_FORWARD_IDP_TOKEN is on.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Gateway } from "../support/gateway";
import { type OidcSetup, startOidcGateway } from "../support/oidc-gateway";
import type { TestIdp } from "../support/oidc-idp";
import { continuesTo, loginThroughIdp } from "../support/oidc-login";
import { waitForSnapshot } from "../support/revocations";
import { REFRESH_COOKIE, refreshCookieHeader, setCookie } from "../support/session-helpers";
import { decodeClaims, mintToken } from "../support/tokens";

const PARALLEL = 50;
let setup: OidcSetup;

beforeAll(async () => {
  setup = await startOidcGateway({
    // Skew = the IdP access-token lifetime, so every rotation also refreshes at the IdP.
    vars: { OIDC_REFRESH_SKEW_SECONDS: "3600", OIDC_FORWARD_IDP_TOKEN: "true", REFRESH_GRACE_SECONDS: "30" },
  });
});
afterAll(() => setup.close());

interface OidcSession {
  readonly refreshToken: string;
  readonly accessToken: string;
  readonly claims: Record<string, unknown>;
}

async function oidcLogin(gateway: Gateway, user: string): Promise<OidcSession> {
  const login = await loginThroughIdp(gateway.url, { login: user });
  expect(await continuesTo(login.response)).toBeDefined();
  const refreshToken = setCookie(login.response as Response, REFRESH_COOKIE)?.value ?? "";
  const refreshed = await gateway.fetch("/auth/refresh", {
    method: "POST",
    headers: { cookie: refreshCookieHeader(refreshToken) },
  });
  expect(refreshed.status).toBe(200);
  const { access_token } = (await refreshed.json()) as { access_token: string };
  return {
    refreshToken: setCookie(refreshed, REFRESH_COOKIE)?.value ?? "",
    accessToken: access_token,
    claims: decodeClaims(access_token),
  };
}

function expiredToken(gateway: Gateway, session: OidcSession): Promise<string> {
  const { sub, sid, auth_time, roles } = session.claims;
  return mintToken(gateway.key, {
    claims: { sub, sid, auth_time, roles, scope: undefined } as never,
    iatOffset: -3600,
    ttl: 900,
  });
}

/** Is this a live access token at the IdP? (its userinfo endpoint accepts it) */
async function validAtIdp(idp: TestIdp, bearer: string): Promise<boolean> {
  const metadata = (await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()) as {
    userinfo_endpoint: string;
  };
  const response = await fetch(metadata.userinfo_endpoint, { headers: { authorization: bearer } });
  await response.arrayBuffer();
  return response.status === 200;
}

describe("50 racers with an expired token on an OIDC session", () => {
  it("all succeed with one rotation and exactly one refresh grant at the IdP", async () => {
    const { gateway, idp } = setup;
    const session = await oidcLogin(gateway, "racer");
    const refreshesBefore = idp.countTokenRequests("refresh_token");
    const expired = await expiredToken(gateway, session);
    const sidField = `"sid":"${session.claims.sid}"`;
    const rotations = () =>
      gateway.logs.filter((line) => line.includes(sidField) && JSON.parse(line).event === "session_rotated").length;
    await gateway.flushLogs();
    const rotationsBefore = rotations();

    const responses = await Promise.all(
      Array.from({ length: PARALLEL }, (_, index) =>
        gateway.fetch(`/api/race/${index}`, {
          headers: { authorization: `Bearer ${expired}`, cookie: refreshCookieHeader(session.refreshToken) },
        }),
      ),
    );
    await Promise.all(responses.map((response) => response.arrayBuffer()));
    expect(responses.map((response) => response.status)).toEqual(Array(PARALLEL).fill(200));
    expect(new Set(responses.map((response) => setCookie(response, REFRESH_COOKIE)?.value)).size).toBe(1);

    // Exactly one refresh grant reached the IdP, and it succeeded: no invalid_grant.
    expect(idp.countTokenRequests("refresh_token") - refreshesBefore).toBe(1);
    expect(idp.countTokenRequests("refresh_token", "error")).toBe(0);

    // Every upstream request carried the IdP's (new, valid) access token, not ours.
    const bearers = new Set(
      gateway.upstream
        .proxied()
        .filter((request) => request.url.startsWith("/api/race/"))
        .map((request) => String(request.headers.authorization)),
    );
    expect(bearers.size).toBe(1);
    const [bearer = ""] = bearers;
    expect(bearer).not.toContain(session.accessToken);
    expect(await validAtIdp(idp, bearer)).toBe(true);

    await gateway.flushLogs();
    expect(rotations() - rotationsBefore).toBe(1);
    expect(gateway.logs.filter((line) => line.includes(sidField) && line.includes("refresh_token_reuse"))).toEqual([]);
  });
});

describe("the provider's side of a session", () => {
  it("ends the session when the provider revoked the grant", async () => {
    const { gateway, idp } = setup;
    const session = await oidcLogin(gateway, "revoked-user");
    expect(await idp.revokeGrants("revoked-user")).toBeGreaterThan(0);

    const refused = await gateway.fetch("/auth/refresh", {
      method: "POST",
      headers: { cookie: refreshCookieHeader(session.refreshToken) },
    });
    expect(refused.status).toBe(401);
    expect(setCookie(refused, REFRESH_COOKIE)?.attributes).toContain("Max-Age=0");
    const sid = String(session.claims.sid);
    // The session's revocation is recorded and published for the other isolates.
    await waitForSnapshot(gateway, (published) => published.has("sid", sid));
    // The session's still-unexpired access token is refused too.
    const api = await gateway.fetch("/api/x", { headers: { authorization: `Bearer ${session.accessToken}` } });
    expect(api.status).toBe(401);
  });

  for (const mode of ["refused", "503"] as const) {
    it(`answers 503 and keeps the session while the provider is down (${mode})`, async () => {
      const { gateway, idp } = setup;
      const session = await oidcLogin(gateway, `down-${mode}`);
      await idp.down(mode);
      try {
        const expired = await expiredToken(gateway, session);
        const during = await gateway.fetch("/api/y", {
          headers: { authorization: `Bearer ${expired}`, cookie: refreshCookieHeader(session.refreshToken) },
        });
        expect(during.status).toBe(503);
        expect(during.headers.getSetCookie()).toEqual([]);
        const explicit = await gateway.fetch("/auth/refresh", {
          method: "POST",
          headers: { cookie: refreshCookieHeader(session.refreshToken) },
        });
        expect(explicit.status).toBe(503);
        // Racers queued behind a failing provider refresh fail fast; all keep the session.
        const racers = await Promise.all(
          Array.from({ length: 10 }, () =>
            gateway.fetch("/auth/refresh", {
              method: "POST",
              headers: { cookie: refreshCookieHeader(session.refreshToken) },
            }),
          ),
        );
        await Promise.all(racers.map((racer) => racer.arrayBuffer()));
        expect(racers.map((racer) => racer.status)).toEqual(Array(10).fill(503));
      } finally {
        await idp.up();
      }
      const after = await gateway.fetch("/auth/refresh", {
        method: "POST",
        headers: { cookie: refreshCookieHeader(session.refreshToken) },
      });
      expect(after.status).toBe(200);
    });
  }

  it("forwards a fresh IdP access token upstream on a request with a valid gateway token", async () => {
    const { gateway, idp } = setup;
    const session = await oidcLogin(gateway, "forwarded");
    const before = idp.countTokenRequests("refresh_token", "ok");
    const response = await gateway.fetch("/api/forwarded", {
      headers: { authorization: `Bearer ${session.accessToken}` },
    });
    expect(response.status).toBe(200);
    const seen = gateway.upstream.proxied().at(-1);
    expect(seen?.url).toBe("/api/forwarded");
    const bearer = String(seen?.headers.authorization);
    expect(bearer).not.toContain(session.accessToken);
    // Stale by the configured skew, so refreshed in the session object first.
    expect(idp.countTokenRequests("refresh_token", "ok")).toBe(before + 1);
    expect(await validAtIdp(idp, bearer)).toBe(true);
  });

  it("revokes the provider's grant when the user logs out here", async () => {
    const { gateway, idp } = setup;
    const session = await oidcLogin(gateway, "leaving");
    const response = await gateway.fetch("/api/leaving", {
      headers: { authorization: `Bearer ${session.accessToken}` },
    });
    expect(response.status).toBe(200);
    const bearer = String(gateway.upstream.proxied().at(-1)?.headers.authorization);
    expect(await validAtIdp(idp, bearer)).toBe(true);
    const logout = await gateway.fetch("/auth/logout", {
      method: "POST",
      headers: { cookie: refreshCookieHeader(session.refreshToken) },
    });
    expect(logout.status).toBe(200);
    // RFC 7009 at the provider: the refresh token's grant, and with it this access token, is gone.
    expect(await validAtIdp(idp, bearer)).toBe(false);
  });
});
