/**
 * The contract for protected requests (RFC 6750): who gets through, and what the
 * refusals look like. Every case also checks that a refused request never reached the
 * upstream (invariant 1).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Gateway, startGateway } from "../support/gateway";
import { mintToken } from "../support/tokens";

let gateway: Gateway;

beforeAll(async () => {
  gateway = await startGateway();
});
afterAll(() => gateway.close());

async function refusedWithoutUpstreamCall(response: Response): Promise<Record<string, unknown>> {
  expect(response.headers.get("content-type")).toBe("application/problem+json");
  return (await response.json()) as Record<string, unknown>;
}

describe("protected routes", () => {
  it("answers 401 with a bare Bearer challenge when no token is sent", async () => {
    const before = gateway.upstream.proxied().length;
    const response = await gateway.fetch("/api/things");
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toBe('Bearer realm="portcullis"');
    await refusedWithoutUpstreamCall(response);
    expect(gateway.upstream.proxied().length).toBe(before);
  });

  it("forwards a request with a valid token, with the verified identity", async () => {
    const token = await mintToken(gateway.key, { claims: { sub: "user-42", scope: "read", roles: ["member"] } });
    const response = await gateway.fetch("/api/things?page=2", { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
    const seen = gateway.upstream.proxied().at(-1);
    expect(seen?.url).toBe("/api/things?page=2");
    expect(seen?.headers["x-auth-subject"]).toBe("user-42");
    expect(seen?.headers["x-auth-scopes"]).toBe("read");
    expect(seen?.headers["x-auth-roles"]).toBe("member");
    expect(seen?.headers.authorization).toBe(`Bearer ${token}`);
  });

  it("forwards the token in the canonical form, whatever the case and spacing it came in", async () => {
    const token = await mintToken(gateway.key);
    for (const authorization of [`bEaReR   ${token}  `, `Bearer ${token}`, `bEaReR   ${token}  `]) {
      const response = await gateway.fetch("/api/things", { headers: { authorization } });
      expect(response.status).toBe(200);
      await response.body?.cancel();
      expect(gateway.upstream.proxied().at(-1)?.headers.authorization).toBe(`Bearer ${token}`);
    }
  });

  it("answers 401 invalid_token for an expired token without a refresh cookie", async () => {
    const token = await mintToken(gateway.key, { iatOffset: -600, ttl: 300 });
    const before = gateway.upstream.proxied().length;
    const response = await gateway.fetch("/api/things", { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toBe('Bearer realm="portcullis", error="invalid_token"');
    const body = await refusedWithoutUpstreamCall(response);
    expect(body.error).toBe("invalid_token");
    expect(JSON.stringify(body)).not.toContain(token);
    expect(gateway.upstream.proxied().length).toBe(before);
  });

  it.each([
    ["wrong issuer", { claims: { iss: "https://evil.test" } }],
    ["wrong audience", { claims: { aud: "another-api" } }],
    ["not yet valid", { claims: { nbf: Math.floor(Date.now() / 1000) + 3600 } }],
    ["issued in the future", { iatOffset: 3600 }],
    ["missing typ at+jwt", { header: { typ: "JWT" } }],
    ["missing jti", { claims: { jti: undefined } }],
    ["missing sid", { claims: { sid: undefined } }],
    ["exp as a string", { claims: { exp: "9999999999" } }],
    ["lifetime beyond the cap", { ttl: 10 * 86_400 }],
    ["unknown kid", { header: { kid: "no-such-key" } }],
  ] as const)("answers 401 invalid_token for a token with %s", async (_name, options) => {
    const token = await mintToken(gateway.key, options as Parameters<typeof mintToken>[1]);
    const before = gateway.upstream.proxied().length;
    const response = await gateway.fetch("/api/things", { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toContain('error="invalid_token"');
    expect(gateway.upstream.proxied().length).toBe(before);
  });

  it("answers 400 invalid_request when a token comes in both header and cookie", async () => {
    const token = await mintToken(gateway.key);
    const response = await gateway.fetch("/api/things", {
      headers: { authorization: `Bearer ${token}`, cookie: `__Host-portcullis-access=${token}` },
    });
    expect(response.status).toBe(400);
    expect(response.headers.get("www-authenticate")).toContain('error="invalid_request"');
  });

  it("accepts the token from the access cookie", async () => {
    const token = await mintToken(gateway.key);
    const response = await gateway.fetch("/api/cookie", { headers: { cookie: `__Host-portcullis-access=${token}` } });
    expect(response.status).toBe(200);
    expect(gateway.upstream.proxied().at(-1)?.headers.authorization).toBe(`Bearer ${token}`);
  });
});

describe("route policy", () => {
  it("forwards public routes without a token", async () => {
    const response = await gateway.fetch("/public/page");
    expect(response.status).toBe(200);
    expect(gateway.upstream.proxied().at(-1)?.url).toBe("/public/page");
  });

  it("does not let dot segments escape a public prefix", async () => {
    const response = await gateway.fetch("/public/../admin/users");
    expect(response.status).toBe(401);
  });

  it("refuses encoded slashes that could mean another path upstream", async () => {
    const response = await gateway.fetch("/public/..%2Fadmin");
    expect(response.status).toBe(400);
  });

  it("answers 403 insufficient_scope when the route needs a scope the token lacks", async () => {
    const token = await mintToken(gateway.key, { claims: { scope: "read" } });
    const before = gateway.upstream.proxied().length;
    const response = await gateway.fetch("/admin/users", { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(403);
    expect(response.headers.get("www-authenticate")).toBe(
      'Bearer realm="portcullis", error="insufficient_scope", scope="admin"',
    );
    expect(gateway.upstream.proxied().length).toBe(before);
  });

  it("lets the scope through when the token has it", async () => {
    const token = await mintToken(gateway.key, { claims: { scope: "read admin" } });
    const response = await gateway.fetch("/admin/users", { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(200);
  });

  it("applies role rules only to the methods they name", async () => {
    const token = await mintToken(gateway.key, { claims: { roles: ["member"] } });
    const get = await gateway.fetch("/orders/7", { headers: { authorization: `Bearer ${token}` } });
    expect(get.status).toBe(200);
    const del = await gateway.fetch("/orders/7", { method: "DELETE", headers: { authorization: `Bearer ${token}` } });
    expect(del.status).toBe(403);
  });
});
