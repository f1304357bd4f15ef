/**
 * RFC 7662 introspection of opaque tokens through the bundled Worker: a real oidc-provider
 * on 127.0.0.1 issues opaque access tokens (client_credentials) and introspects them for
 * the gateway's client; a trusted issuer's `introspection` points at it, with a cache cap of
 * two seconds so a revocation at the provider is seen within the test.
 *
 * An opaque token is accepted on the routes naming its issuer and refused (401
 * invalid_token) everywhere else; a token the provider does not call active is refused; the
 * provider is asked once per token within the cap; a provider that cannot answer is a 503;
 * neither a token nor the gateway's secret ever reaches the log.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Gateway, startGateway } from "../support/gateway";
import { INTROSPECTION_CLIENT_ID, type OpaqueTokenIdp, startOpaqueTokenIdp } from "../support/opaque-token-idp";
import { TEST_SECRETS } from "../support/test-keys";
import { mintToken } from "../support/tokens";
import { startUpstream, type TestUpstream } from "../support/upstream";

const API_AUDIENCE = "https://api.example.test";
const SUBJECT = "idp|ci-runner";

let upstream: TestUpstream;
let gateway: Gateway;
let idp: OpaqueTokenIdp;

beforeAll(async () => {
  [upstream, idp] = await Promise.all([startUpstream(), startOpaqueTokenIdp({ audience: API_AUDIENCE })]);
  gateway = await startGateway({
    upstream,
    vars: {
      PORTCULLIS_ENV: "development",
      INTROSPECTION_SECRET_IDP: idp.introspectionSecret,
      TRUSTED_ISSUERS: JSON.stringify([
        {
          id: "idp",
          issuer: idp.issuer,
          audience: API_AUDIENCE,
          subject_prefix: "idp|",
          introspection: {
            url: idp.introspectionUrl,
            client_id: INTROSPECTION_CLIENT_ID,
            client_secret_env: "INTROSPECTION_SECRET_IDP",
            cache_seconds: 2,
            timeout_ms: 500,
          },
        },
      ]),
      ROUTES: JSON.stringify([
        { path: "/health", public: true },
        { path: "/deploy/*", issuers: ["idp"], scopes: ["deploy:write"] },
        { path: "/ci/*", issuers: ["self", "idp"] },
      ]),
    },
  });
});

afterAll(async () => {
  await gateway?.close();
  await Promise.all([idp?.close(), upstream?.close()]);
});

/** Calls `path` with the token; says how many requests reached the upstream and the provider meanwhile. */
async function call(path: string, token: string) {
  const forwardedBefore = upstream.proxied().length;
  const askedBefore = idp.introspections;
  const response = await gateway.fetch(path, { headers: { authorization: `Bearer ${token}` } });
  await response.text();
  return {
    response,
    forwarded: upstream.proxied().length - forwardedBefore,
    asked: idp.introspections - askedBefore,
  };
}

async function expectRefused(path: string, token: string): Promise<void> {
  const { response, forwarded } = await call(path, token);
  expect(response.status).toBe(401);
  expect(response.headers.get("www-authenticate")).toContain('error="invalid_token"');
  expect(forwarded).toBe(0);
}

/** Every token the tests got, so the log can be searched for each. */
const issued: string[] = [];

async function issue(scope: string): Promise<string> {
  const token = await idp.issueToken(scope);
  issued.push(token);
  return token;
}

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("an opaque token of the introspected issuer", () => {
  it("is accepted on its route, under its prefixed subject (the client's id) and with its scopes", async () => {
    const token = await issue("deploy:write");
    expect(token).not.toContain(".");
    const { response, forwarded, asked } = await call("/deploy/api", token);
    expect(response.status).toBe(200);
    expect(forwarded).toBe(1);
    expect(asked).toBe(1);
    const seen = upstream.proxied().at(-1)?.headers ?? {};
    expect(seen["x-auth-subject"]).toBe(SUBJECT);
    expect(seen["x-auth-issuer"]).toBe("idp");
    expect(seen["x-auth-scopes"]).toBe("deploy:write");
    expect(seen["x-auth-session"]).toBeUndefined();
  });

  it("is refused as invalid_token on a route that does not name its issuer, without asking the provider", async () => {
    const token = await issue("deploy:write");
    await expectRefused("/api/me", token);
    expect((await call("/api/me", token)).asked).toBe(0);
    expect((await call("/ci/status", token)).response.status).toBe(200);
  });

  it("is refused (403) on its route without the scope the route requires", async () => {
    const { response, forwarded } = await call("/deploy/api", await issue("status:read"));
    expect(response.status).toBe(403);
    expect(forwarded).toBe(0);
  });

  it("is asked about once for several requests within the cache cap", async () => {
    const token = await issue("deploy:write");
    const asked = [];
    for (let index = 0; index < 4; index++) asked.push((await call("/deploy/api", token)).asked);
    expect(asked).toEqual([1, 0, 0, 0]);
  });
});

describe("a token the provider does not call active", () => {
  it("is refused when made up, and a second try does not ask the provider again", async () => {
    const madeUp = "Zm9yZ2VkLW9wYXF1ZS10b2tlbi1vZi00My1jaGFyYWN0ZXJz";
    const first = await call("/deploy/api", madeUp);
    expect(first.response.status).toBe(401);
    expect(first.asked).toBe(1);
    const again = await call("/deploy/api", madeUp);
    expect(again.response.status).toBe(401);
    expect(again.asked).toBe(0);
  });

  it("is refused at once when revoked at the provider before the gateway saw it", async () => {
    const token = await issue("deploy:write");
    await idp.revoke(token);
    await expectRefused("/deploy/api", token);
  });

  it("is refused once the cache cap has passed when revoked at the provider after the gateway saw it", async () => {
    const token = await issue("deploy:write");
    expect((await call("/deploy/api", token)).response.status).toBe(200);
    await idp.revoke(token);
    // The trade-off cache_seconds sets (here 2 s): the remembered answer still holds for a moment.
    await wait(2_100);
    await expectRefused("/deploy/api", token);
  });

  it("never sends a JWT to the provider, even one claiming its iss", async () => {
    const jwt = await mintToken(gateway.key, { claims: { iss: idp.issuer, aud: API_AUDIENCE } });
    const { response, asked } = await call("/deploy/api", jwt);
    expect(response.status).toBe(401);
    expect(asked).toBe(0);
  });
});

describe("a provider that cannot answer", () => {
  it("makes a not yet remembered token a 503, not a 401: connections refused, a 503, or no answer within timeout_ms", async () => {
    for (const mode of ["refused", "503", "hang"] as const) {
      const token = await issue("deploy:write");
      await idp.down(mode);
      try {
        const { response, forwarded } = await call("/deploy/api", token);
        expect(response.status).toBe(503);
        expect(response.headers.get("retry-after")).toBe("5");
        expect(forwarded).toBe(0);
      } finally {
        await idp.up();
      }
      expect((await call("/deploy/api", token)).response.status).toBe(200);
    }
  });
});

describe("the log", () => {
  it("holds no opaque token and not the gateway's introspection secret", async () => {
    const token = await issue("deploy:write");
    await call("/deploy/api", token);
    await call("/api/me", token);
    const text = gateway.logs.join("\n");
    expect(issued.length).toBeGreaterThan(5);
    for (const each of issued) expect(text).not.toContain(each);
    expect(text).not.toContain(idp.introspectionSecret);
    expect(text).not.toContain(idp.clientSecret);
  });
});

describe("the gateway's own revocation", () => {
  it("refuses an introspected token by its prefixed subject", async () => {
    const token = await issue("deploy:write");
    expect((await call("/deploy/api", token)).response.status).toBe(200);
    const revoked = await gateway.fetch("/auth/operator/revoke-subject", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${TEST_SECRETS.OPERATOR_TOKEN}` },
      body: JSON.stringify({ sub: SUBJECT }),
    });
    expect(revoked.status).toBe(200);
    await expectRefused("/deploy/api", token);
  });
});
