/**
 * A provider that is configured wrongly is not a provider that is down. Against the real
 * test IdP (oidc-provider on 127.0.0.1): a wrong issuer path, an issuer that differs from
 * the metadata's, a client secret the provider refuses and a grant the client may not use
 * are configuration errors (503 "Gateway is not configured", no Retry-After, one
 * `config_invalid` line at error level naming the setting, the URL and what the provider
 * said); an unreachable provider is a 503 with Retry-After.
 */

import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { type Gateway, startGateway } from "../support/gateway";
import { type OidcSetup, startOidcGateway, TEST_SEALING_SECRET } from "../support/oidc-gateway";
import { loginThroughIdp } from "../support/oidc-login";

let setup: OidcSetup | undefined;
afterEach(async () => {
  await setup?.close();
  setup = undefined;
});

async function configError(gateway: Gateway, response: Response, setting: string): Promise<string> {
  expect(response.status).toBe(503);
  expect(response.headers.get("retry-after")).toBeNull();
  expect(((await response.json()) as { title: string }).title).toBe("Gateway is not configured");
  const [line] = await gateway.waitForLog((entry) => entry.includes('"event":"config_invalid"'));
  const entry = JSON.parse(line ?? "{}");
  expect(entry).toMatchObject({ level: "error", setting });
  return entry.detail as string;
}

const startLogin = (gateway: Gateway) => gateway.fetch("/auth/oidc/login?return_to=/orders");

describe("the provider's discovery", () => {
  it("names a wrong issuer path: the discovery URL and its 404", async () => {
    setup = await startOidcGateway({ vars: (idp) => ({ OIDC_ISSUER: `${idp.issuer}/realms/nope` }) });
    const detail = await configError(setup.gateway, await startLogin(setup.gateway), "OIDC_ISSUER");
    expect(detail).toContain(`${setup.idp.issuer}/realms/nope/.well-known/openid-configuration`);
    expect(detail).toContain("404");
  });

  it("names an issuer that differs from the metadata's, and what the metadata says", async () => {
    const spelledOf = (issuer: string) => issuer.replace("127.0.0.1", "localhost");
    setup = await startOidcGateway({ vars: (idp) => ({ OIDC_ISSUER: spelledOf(idp.issuer) }) });
    const detail = await configError(setup.gateway, await startLogin(setup.gateway), "OIDC_ISSUER");
    expect(detail).toContain(`says its issuer is "${setup.idp.issuer}"`);
    expect(detail).toContain(`not "${spelledOf(setup.idp.issuer)}"`);
  });

  it("answers a provider that cannot be reached as an outage: 503 with Retry-After", async () => {
    setup = await startOidcGateway();
    await setup.idp.down("refused");
    const response = await startLogin(setup.gateway);
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("30");
    expect(((await response.json()) as { title: string }).title).toBe(
      "The identity provider is temporarily unavailable",
    );
    const [line] = await setup.gateway.waitForLog((entry) => entry.includes('"event":"dependency_failed"'));
    expect(line).toContain(`${setup.idp.issuer}/.well-known/openid-configuration`);
    await setup.idp.up();
  });
});

describe("the provider's answers at the callback", () => {
  it("names a client secret the provider refuses (invalid_client), with what it said", async () => {
    setup = await startOidcGateway({ vars: { OIDC_CLIENT_SECRET: "a-wrong-client-secret-0123456789abcdef" } });
    const login = await loginThroughIdp(setup.gateway.url, { returnTo: "/orders" });
    expect(login.response).toBeDefined();
    const detail = await configError(setup.gateway, login.response as Response, "OIDC_CLIENT_SECRET");
    expect(detail).toContain("invalid_client");
    expect(detail).not.toContain("a-wrong-client-secret");
  });

  it.each([
    ["unauthorized_client", "", "OIDC_CLIENT_ID"],
    ["invalid_grant", "redirect_uri mismatch", "OIDC_REDIRECT_URI"],
  ])("names %s %s at the token endpoint as %s", async (error, description, setting) => {
    // A provider whose token endpoint answers this error: a real server on loopback.
    const provider = await startRefusingProvider({ error, ...(description ? { error_description: description } : {}) });
    const gateway = await startGateway({
      vars: {
        PORTCULLIS_ENV: "development",
        SIGNING_KEYS: "",
        OIDC_ISSUER: provider.issuer,
        OIDC_CLIENT_ID: "portcullis",
        OIDC_CLIENT_SECRET: "test-client-secret-0123456789abcdef",
        OIDC_SEALING_SECRET: TEST_SEALING_SECRET,
      },
    });
    try {
      const start = await startLogin(gateway);
      expect(start.status).toBe(302);
      const state = new URL(start.headers.get("location") as string).searchParams.get("state");
      const cookie = start.headers
        .getSetCookie()
        .map((line) => line.split(";")[0])
        .join("; ");
      const callback = await gateway.fetch(`/auth/oidc/callback?code=abc&state=${state}`, { headers: { cookie } });
      const detail = await configError(gateway, callback, setting);
      expect(detail).toContain(error);
      expect(provider.tokenRequests).toBe(1);
    } finally {
      await gateway.close();
      await provider.close();
    }
  });
});

/** Discovery and a token endpoint that refuses every code with `answer` (status 400). */
async function startRefusingProvider(answer: Record<string, string>) {
  let tokenRequests = 0;
  const server = http.createServer((request, response) => {
    const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const json = (status: number, body: unknown) =>
      response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    if (request.url === "/.well-known/openid-configuration") {
      return json(200, {
        issuer,
        authorization_endpoint: `${issuer}/auth`,
        token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/jwks`,
        response_types_supported: ["code"],
        subject_types_supported: ["public"],
        id_token_signing_alg_values_supported: ["RS256"],
        code_challenge_methods_supported: ["S256"],
      });
    }
    if (request.url === "/token") {
      tokenRequests += 1;
      request.resume();
      return json(400, answer);
    }
    return json(404, { error: "not_found" });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    issuer: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get tokenRequests() {
      return tokenRequests;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
