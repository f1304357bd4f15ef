/**
 * TokenIntrospection: what an introspection answer must say for the token to pass, how it
 * maps to claims, and how long answers are remembered. The provider is a fetch handed in
 * and the clock a number, so every case is exact (the real provider is in
 * test/integration/introspection.test.ts).
 */
import { describe, expect, it } from "vitest";
import { GatewayError } from "../../src/errors/gateway-error";
import { type IntrospectedIssuer, isOpaqueToken, TokenIntrospection } from "../../src/tokens/token-introspection";

const NOW = 1_800_000_000_000;
const NOW_SECONDS = NOW / 1000;
const TOKEN = "b3BhcXVlLWFjY2Vzcy10b2tlbi1mb3ItdGhlLXRlc3Rz";

const ISSUER: IntrospectedIssuer = Object.freeze({
  id: "okta",
  issuer: "https://example.okta.com",
  jwksUrl: undefined,
  audience: ["api://default"],
  algorithms: ["RS256"],
  subjectPrefix: "okta|",
  scopeClaim: "scope",
  rolesClaim: "groups",
  maxTokenAge: undefined,
  introspection: Object.freeze({
    url: "https://example.okta.com/v1/introspect",
    allowInsecureRequests: false,
    clientId: "portcullis",
    clientSecret: "an-introspection-secret-long-enough-012",
    cacheSeconds: 300,
    negativeCacheSeconds: 10,
    timeoutMs: 1000,
  }),
});

const ACTIVE = {
  active: true,
  iss: ISSUER.issuer,
  aud: "api://default",
  sub: "00u1alice",
  client_id: "0oa1app",
  scope: "orders:read orders:write",
  groups: ["staff"],
  token_type: "Bearer",
  iat: NOW_SECONDS - 60,
  exp: NOW_SECONDS + 3600,
};

/** A provider answering `answer` (or failing with `status`), counting the calls and keeping the last request. */
function provider(answer: Record<string, unknown>, status = 200) {
  const calls: Request[] = [];
  const fetcher = (async (input: RequestInfo | URL, init?: RequestInit) => {
    calls.push(new Request(input, init));
    return new Response(JSON.stringify(answer), { status, headers: { "content-type": "application/json" } });
  }) as typeof fetch;
  return { calls, introspection: new TokenIntrospection(ISSUER, fetcher) };
}

const at = (now: number) => ({ issuer: "https://gateway.test", audience: "api", clockToleranceSeconds: 5, now });

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof GatewayError) return error.code;
    throw error;
  }
  return "accepted";
}

describe("TokenIntrospection", () => {
  it("sends the token with client_secret_basic and maps the answer as the issuer's JWTs are", async () => {
    const { calls, introspection } = provider(ACTIVE);
    const result = await introspection.verify(TOKEN, at(NOW));
    expect(result.status).toBe("valid");
    expect(result.claims).toMatchObject({
      sub: "okta|00u1alice",
      iss: ISSUER.issuer,
      trustedIssuer: "okta",
      sid: undefined,
    });
    expect([...result.claims.scopes]).toEqual(["orders:read", "orders:write"]);
    expect([...result.claims.roles]).toEqual(["staff"]);
    const [request] = calls;
    expect(request?.url).toBe(ISSUER.introspection.url);
    // RFC 6749 §2.3.1: the id and secret are form-encoded before they are joined.
    const basic = atob(String(request?.headers.get("authorization")).replace(/^Basic /, ""));
    expect(basic.split(":").map((part) => decodeURIComponent(part))).toEqual([
      "portcullis",
      ISSUER.introspection.clientSecret,
    ]);
    const body = new URLSearchParams(await request?.text());
    expect(body.get("token")).toBe(TOKEN);
    expect(body.get("token_type_hint")).toBe("access_token");
  });

  it("takes the client_id as the subject of a client's own token (no sub), and never a jti that is the token", async () => {
    const { introspection } = provider({ ...ACTIVE, sub: undefined, jti: TOKEN });
    const { claims } = await introspection.verify(TOKEN, at(NOW));
    expect(claims.sub).toBe("okta|0oa1app");
    expect(claims.jti).toBeUndefined();
  });

  it.each([
    ["inactive", { active: false }],
    ["another issuer", { ...ACTIVE, iss: "https://evil.example.com" }],
    ["another audience", { ...ACTIVE, aud: ["api://other"] }],
    ["no audience", { ...ACTIVE, aud: undefined }],
    ["a refresh token", { ...ACTIVE, token_type: "refresh_token" }],
    ["no exp", { ...ACTIVE, exp: undefined }],
    ["no iat", { ...ACTIVE, iat: undefined }],
    ["iat in the future", { ...ACTIVE, iat: NOW_SECONDS + 60 }],
    ["nbf in the future", { ...ACTIVE, nbf: NOW_SECONDS + 60 }],
    ["a lifetime past the cap", { ...ACTIVE, exp: NOW_SECONDS + 2 * 86_400 }],
    ["an ill-typed sub", { ...ACTIVE, sub: "bad\nsub" }],
  ])("refuses an answer with %s as token_invalid", async (_case, answer) => {
    expect(await codeOf(provider(answer).introspection.verify(TOKEN, at(NOW)))).toBe("token_invalid");
  });

  it("fails closed with introspection_unavailable when the provider fails or refuses the gateway's client", async () => {
    expect(await codeOf(provider({ error: "server_error" }, 500).introspection.verify(TOKEN, at(NOW)))).toBe(
      "introspection_unavailable",
    );
    expect(await codeOf(provider({ error: "invalid_client" }, 401).introspection.verify(TOKEN, at(NOW)))).toBe(
      "introspection_unavailable",
    );
    const throwing = new TokenIntrospection(ISSUER, (async () => {
      throw new TypeError("fetch failed");
    }) as typeof fetch);
    expect(await codeOf(throwing.verify(TOKEN, at(NOW)))).toBe("introspection_unavailable");
  });

  it("remembers an active answer until cache_seconds, never past the token's exp", async () => {
    const { calls, introspection } = provider(ACTIVE);
    await introspection.verify(TOKEN, at(NOW));
    await introspection.verify(TOKEN, at(NOW + 299_000));
    expect(calls).toHaveLength(1);
    await introspection.verify(TOKEN, at(NOW + 300_000));
    expect(calls).toHaveLength(2);

    const shortLived = provider({ ...ACTIVE, exp: NOW_SECONDS + 30 });
    await shortLived.introspection.verify(TOKEN, at(NOW));
    await shortLived.introspection.verify(TOKEN, at(NOW + 29_000));
    expect(shortLived.calls).toHaveLength(1);
    await shortLived.introspection.verify(TOKEN, at(NOW + 30_000)).catch(() => undefined);
    expect(shortLived.calls).toHaveLength(2);
  });

  it("remembers a refusal for the negative cache time, keyed by a digest and never the token", async () => {
    const { calls, introspection } = provider({ ...ACTIVE, aud: "api://other" });
    expect(await codeOf(introspection.verify(TOKEN, at(NOW)))).toBe("token_invalid");
    expect(await codeOf(introspection.verify(TOKEN, at(NOW + 9_000)))).toBe("token_invalid");
    expect(calls).toHaveLength(1);
    expect(await codeOf(introspection.verify(TOKEN, at(NOW + 10_000)))).toBe("token_invalid");
    expect(calls).toHaveLength(2);
    expect(introspection.remembered).toBe(1);
  });

  it("does not remember a failure: the next request asks again", async () => {
    const { calls, introspection } = provider({ error: "temporarily_unavailable" }, 503);
    await codeOf(introspection.verify(TOKEN, at(NOW)));
    await codeOf(introspection.verify(TOKEN, at(NOW)));
    expect(calls).toHaveLength(2);
  });

  it("asks every time with cache_seconds 0", async () => {
    const fetcher = provider(ACTIVE);
    const uncached = new TokenIntrospection(
      { ...ISSUER, introspection: { ...ISSUER.introspection, cacheSeconds: 0 } },
      ((input: RequestInfo | URL, init?: RequestInit) => {
        fetcher.calls.push(new Request(input, init));
        return Promise.resolve(Response.json(ACTIVE));
      }) as typeof fetch,
    );
    await uncached.verify(TOKEN, at(NOW));
    await uncached.verify(TOKEN, at(NOW));
    expect(fetcher.calls).toHaveLength(2);
  });
});

describe("isOpaqueToken", () => {
  it("takes a token with a dot for a JWT, which is never introspected", () => {
    expect(isOpaqueToken(TOKEN)).toBe(true);
    expect(isOpaqueToken("gho_16C7e42F292c6912E7710c838347Ae178B4a")).toBe(true);
    expect(isOpaqueToken("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")).toBe(false);
    expect(isOpaqueToken("a.b.c.d.e")).toBe(false);
  });
});
