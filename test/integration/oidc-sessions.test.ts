/**
 * A session begun at the OpenID Connect provider: listed as `oidc` in the user's
 * sessions and counted as an `oidc` login.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dataPoints, metricsRecorderOptions, waitForPoints } from "../support/metrics";
import { type OidcSetup, startOidcGateway } from "../support/oidc-gateway";
import { continuesTo, loginThroughIdp } from "../support/oidc-login";

let setup: OidcSetup;

beforeAll(async () => {
  setup = await startOidcGateway({ gateway: metricsRecorderOptions() });
});
afterAll(() => setup?.close());

describe("sessions begun at the identity provider", () => {
  it("are listed with login method oidc and counted as oidc logins", async () => {
    const { gateway } = setup;
    const since = (await dataPoints(gateway)).length;
    const login = await loginThroughIdp(gateway.url, { login: "alice" });
    expect(await continuesTo(login.response)).toBeDefined();
    // The browser holds only the refresh cookie: an access token comes from /auth/refresh.
    const refreshed = await gateway.fetch("/auth/refresh", {
      method: "POST",
      headers: { cookie: await login.cookieHeader(), origin: gateway.url },
    });
    expect(refreshed.status).toBe(200);
    const { access_token } = (await refreshed.json()) as { access_token: string };

    const listed = await gateway.fetch("/auth/sessions", { headers: { authorization: `Bearer ${access_token}` } });
    expect(listed.status).toBe(200);
    const { sessions } = (await listed.json()) as { sessions: { login_method: string; current: boolean }[] };
    expect(sessions.find((session) => session.current)?.login_method).toBe("oidc");
    await waitForPoints(gateway, [["login", "oidc"]], since);
  });
});
