/**
 * Logins in a row through the test IdP, each completing with exactly one code grant, and
 * the time the callback takes next to a password login (both start a session object; the
 * callback also calls the IdP's token endpoint, and on first use discovery and JWKS).
 * The figures are printed for docs/oidc.md and the release note, not asserted (no timed
 * assertions).
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { type OidcSetup, startOidcGateway } from "../support/oidc-gateway";
import { continuesTo, gatewayCookieHeader, loginThroughIdp } from "../support/oidc-login";
import { login } from "../support/session-helpers";

const LOGINS = 30;
let setup: OidcSetup;

beforeAll(async () => {
  setup = await startOidcGateway();
});
afterAll(() => setup.close());

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

it(`completes ${LOGINS} logins in a row, one code grant each`, async () => {
  const { gateway, idp } = setup;
  const callbackMs: number[] = [];
  for (let index = 0; index < LOGINS; index += 1) {
    const pending = await loginThroughIdp(gateway.url, { login: `user${index}`, stopAtCallback: true });
    const cookie = await gatewayCookieHeader(pending.jar, gateway.url);
    const started = performance.now();
    const response = await gateway.fetch(`${pending.callbackUrl.pathname}${pending.callbackUrl.search}`, {
      headers: { cookie },
    });
    callbackMs.push(performance.now() - started);
    expect(await continuesTo(response)).toBeDefined();
  }
  expect(idp.countTokenRequests("authorization_code", "ok")).toBe(LOGINS);

  const passwordMs: number[] = [];
  for (let index = 0; index < LOGINS; index += 1) {
    const started = performance.now();
    await login(gateway, "alice");
    passwordMs.push(performance.now() - started);
  }
  console.log(
    JSON.stringify({
      oidcCallbackFirstMs: Math.round(callbackMs[0] ?? 0),
      oidcCallbackMedianMs: Math.round(median(callbackMs.slice(1)) * 10) / 10,
      passwordLoginMedianMs: Math.round(median(passwordMs) * 10) / 10,
    }),
  );
});
