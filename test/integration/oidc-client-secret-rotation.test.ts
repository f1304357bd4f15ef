/**
 * The OIDC_CLIENT_SECRET rotation of docs/operations.md, performed step by step on a live
 * gateway with OpenID Connect sessions, each step a deploy that keeps the storage:
 *
 *   1. the provider holds a second secret for the client (most providers can hold two
 *      for a while; the test IdP is made to accept the old one besides its new one)
 *   2. OIDC_CLIENT_SECRET = the new secret
 *   3. the provider drops the old secret
 *
 * The gateway authenticates with the secret at the provider's token endpoint for a login
 * (the code exchange) and for every provider refresh, which happens here at each session
 * rotation (OIDC_REFRESH_SKEW_SECONDS = the IdP's token lifetime). After every step every
 * session works (API call, transparent refresh, explicit refresh, each refreshing at the
 * provider), a new login works, the provider refused nothing and nothing answers an error.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Gateway } from "../support/gateway";
import { errorLines, exercise, expiredTokenOf, type LiveSession } from "../support/live-sessions";
import { type OidcDeployment, oidcSession, startOidcDeployment } from "../support/oidc-deployment";
import { makeKey, type TestKey } from "../support/test-keys";

let key: TestKey;
let setup: OidcDeployment;
const sessions: LiveSession[] = [];
let oldSecret: string;
const newSecret = randomBytes(32).toString("base64url");
/** The secret the provider has registered for the client, and one more it still accepts. */
let registered: string | undefined;
let alsoAccepted: string | undefined;
/** The secrets the gateway authenticated with at the provider, in order. */
const presented: string[] = [];

/** Lets the test IdP hold two secrets at once, as the rotation's first step asks of a provider. */
function acceptSecondSecret(): void {
  const client = setup.idp.provider.Client as unknown as {
    prototype: { compareClientSecret(this: unknown, actual: string): Promise<boolean> | boolean };
  };
  const compare = client.prototype.compareClientSecret;
  client.prototype.compareClientSecret = async function compareEither(actual: string) {
    presented.push(actual);
    return (await compare.call(this, actual)) || (alsoAccepted !== undefined && actual === alsoAccepted);
  };
}

async function everySessionWorks(gateway: Gateway, secret: string): Promise<void> {
  const providerRefreshes = setup.idp.countTokenRequests("refresh_token", "ok");
  for (const session of sessions) await exercise(gateway, session, await expiredTokenOf(session, key));
  // Two rotations per session (the transparent and the explicit refresh), each refreshing at the provider.
  expect(setup.idp.countTokenRequests("refresh_token", "ok")).toBe(providerRefreshes + 2 * sessions.length);
  sessions.push(await oidcSession(gateway, `login-${presented.length}`));
  expect(presented.at(-1)).toBe(secret);
  expect(setup.idp.tokenRequests.filter((request) => request.status !== 200)).toEqual([]);
  await gateway.flushLogs();
  expect(errorLines(gateway)).toEqual([]);
}

beforeAll(async () => {
  key = await makeKey("EdDSA", "client-secret-rotation");
  setup = await startOidcDeployment(
    { SIGNING_KEYS: JSON.stringify([key.privateJwk]), OIDC_REFRESH_SKEW_SECONDS: "3600" },
    () => (registered === undefined ? {} : { client_secret: registered }),
  );
  oldSecret = setup.idp.clientSecret;
  acceptSecondSecret();
  const { gateway } = setup.deployment;
  sessions.push(await oidcSession(gateway, "alice"), await oidcSession(gateway, "bob"));
});
afterAll(() => setup?.close());

describe("rotating OIDC_CLIENT_SECRET, step by step (docs/operations.md)", () => {
  it("1. the provider holds the new secret besides the old one: nothing changes", async () => {
    registered = newSecret;
    alsoAccepted = oldSecret;
    const { gateway } = setup.deployment;
    await setup.idp.registerGateway(gateway.url, { client_secret: registered });
    await everySessionWorks(gateway, oldSecret);
  });

  it("2. OIDC_CLIENT_SECRET = the new secret: the gateway authenticates with it", async () => {
    const gateway = await setup.deployment.redeploy({ OIDC_CLIENT_SECRET: newSecret });
    await everySessionWorks(gateway, newSecret);
    expect(gateway.logs.join("\n")).not.toContain(newSecret);
  });

  it("3. the provider drops the old secret", async () => {
    alsoAccepted = undefined;
    await everySessionWorks(setup.deployment.gateway, newSecret);
    expect(presented.slice(presented.lastIndexOf(oldSecret) + 1).every((secret) => secret === newSecret)).toBe(true);
  });
});
