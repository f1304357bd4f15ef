/**
 * Routes with `revocation = "strict"` ask the session's Durable Object on every request,
 * besides the published revocations: a session that ended in its object is refused there
 * at once, even where the published snapshot (here: nothing at all) says nothing yet; other routes keep answering from KV alone and
 * never touch the object. A strict route fails closed when the object cannot answer.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { faultInjectionOptions, setFaults } from "../support/faults";
import { type Gateway, startGateway } from "../support/gateway";
import { publishedSnapshot } from "../support/revocations";
import { expiredTokenFor, login, refreshCookieHeader } from "../support/session-helpers";
import { mintToken } from "../support/tokens";

const ROUTES = JSON.stringify([{ path: "/payments/*", revocation: "strict" }, { path: "/api/*" }]);

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

describe("strict routes", () => {
  let gateway: Gateway;
  beforeAll(async () => {
    gateway = await startGateway({ vars: { ROUTES, REVOCATION_CACHE_SECONDS: "60" } });
  });
  afterAll(() => gateway.close());

  it("refuse a session its object ended, though KV knows nothing of it; other routes still pass", async () => {
    const session = await login(gateway);
    expect((await gateway.fetch("/payments/1", bearer(session.accessToken))).status).toBe(200);
    // End the session in its object only: no KV entry is written.
    const namespace = await gateway.mf.getDurableObjectNamespace("SESSIONS");
    const object = namespace.get(namespace.idFromName(String(session.claims.sid))) as unknown as {
      revoke(input: { reason: string; now: number }): Promise<unknown>;
    };
    await object.revoke({ reason: "test", now: Date.now() });
    // Nothing was recorded in the revocation ledger, so nothing is published for the edge.
    expect((await publishedSnapshot(gateway))?.has("sid", String(session.claims.sid)) ?? false).toBe(false);

    const strict = await gateway.fetch("/payments/1", bearer(session.accessToken));
    expect(strict.status).toBe(401);
    expect(strict.headers.get("www-authenticate")).toContain('error="invalid_token"');
    // The eventually consistent route has not heard yet: that is the difference strict makes.
    expect((await gateway.fetch("/api/1", bearer(session.accessToken))).status).toBe(200);
  });

  it("refuse a token that has no Portcullis session to ask about", async () => {
    const token = await mintToken(gateway.key, { claims: { sub: "external-user" } as never });
    expect((await gateway.fetch("/payments/1", bearer(token))).status).toBe(401);
    expect((await gateway.fetch("/api/1", bearer(token))).status).toBe(200);
  });

  it("pass a token the gateway just refreshed on the way (the object vouched for it)", async () => {
    const session = await login(gateway);
    const expired = await expiredTokenFor(gateway, session);
    const response = await gateway.fetch("/payments/1", {
      headers: { authorization: `Bearer ${expired}`, cookie: refreshCookieHeader(session.refreshToken) },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("authorization")).toMatch(/^Bearer /);
  });
});

describe("strict routes when the session objects fail", () => {
  let gateway: Gateway;
  beforeAll(async () => {
    gateway = await startGateway({ vars: { ROUTES }, ...faultInjectionOptions() });
  });
  afterAll(() => gateway.close());

  it("answer 503 (fail closed) while other routes, which never ask the object, keep working", async () => {
    const session = await login(gateway);
    await setFaults(gateway, { sessions: true });
    try {
      const strict = await gateway.fetch("/payments/1", bearer(session.accessToken));
      expect(strict.status).toBe(503);
      expect((await gateway.fetch("/api/1", bearer(session.accessToken))).status).toBe(200);
    } finally {
      await setFaults(gateway, { sessions: false });
    }
    expect((await gateway.fetch("/payments/1", bearer(session.accessToken))).status).toBe(200);
  });
});
