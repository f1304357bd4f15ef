/**
 * A token signed by a retired key (its kid no configured key has) that comes with a valid
 * refresh cookie: the cookie, not the token, is the credential, so the gateway refreshes
 * transparently as for an expired token. The token is unverified, so nothing in it is
 * believed: the new token's session, subject, scopes and roles are the refresh token's
 * own session's. Everything else is refused exactly as before: no cookie, a cookie of
 * another session, a known key with a bad signature, a token that does not read as ours,
 * a dead session, and endpoints that do not hand tokens back.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Gateway, startGateway } from "../support/gateway";
import { kidOf } from "../support/live-sessions";
import { type LoggedIn, login, REFRESH_COOKIE, refreshCookieHeader, setCookie } from "../support/session-helpers";
import { makeKey, type TestKey } from "../support/test-keys";
import { decodeClaims, type MintOptions, mintToken } from "../support/tokens";

let gateway: Gateway;
/** The key that signed before the rotation: no longer configured anywhere. */
let retired: TestKey;

beforeAll(async () => {
  retired = await makeKey("EdDSA", "retired-2026-01");
  gateway = await startGateway();
});
afterAll(() => gateway.close());

/** A token of the session's, as the retired key signed it; `options` may change its claims or header. */
function retiredTokenOf(session: LoggedIn, options: MintOptions = {}): Promise<string> {
  const { sub, sid, auth_time, scope, roles } = session.claims;
  return mintToken(retired, {
    ...options,
    claims: { sub, sid, auth_time, scope, roles, ...options.claims } as never,
  });
}

function call(path: string, token: string, refreshToken?: string): Promise<Response> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (refreshToken !== undefined) headers.cookie = refreshCookieHeader(refreshToken);
  return gateway.fetch(path, { headers });
}

async function expectInvalidToken(response: Response, cookies: "kept" | "cleared" = "kept"): Promise<void> {
  expect(response.status).toBe(401);
  expect(response.headers.get("www-authenticate")).toContain('error="invalid_token"');
  expect(response.headers.get("authorization")).toBeNull();
  const cleared = setCookie(response, REFRESH_COOKIE);
  if (cookies === "kept") expect(cleared).toBeUndefined();
  else expect(cleared?.value).toBe("");
  await response.body?.cancel();
}

/** The session is intact: its refresh cookie still refreshes. */
async function expectAlive(session: LoggedIn): Promise<void> {
  const response = await gateway.fetch("/auth/refresh", {
    method: "POST",
    headers: { cookie: refreshCookieHeader(session.refreshToken) },
  });
  expect(response.status).toBe(200);
  await response.body?.cancel();
}

describe("a token of a retired key, with the refresh cookie of its session", () => {
  it("is refreshed on the way: forwarded with a new token of the current key and a rotated cookie", async () => {
    const session = await login(gateway);
    const response = await call("/api/orders", await retiredTokenOf(session), session.refreshToken);
    expect(response.status).toBe(200);
    const fresh = response.headers.get("authorization")?.replace(/^Bearer /, "") ?? "";
    expect(kidOf(fresh)).toBe("test-ed25519");
    expect(decodeClaims(fresh)).toMatchObject({ sub: "user-alice", sid: session.claims.sid });
    const rotated = setCookie(response, REFRESH_COOKIE)?.value;
    expect(rotated).toBeDefined();
    expect(rotated).not.toBe(session.refreshToken);
    const seen = gateway.upstream.proxied().at(-1)?.headers;
    expect(seen?.["x-auth-subject"]).toBe("user-alice");
    expect(seen?.authorization).toBe(`Bearer ${fresh}`);
    expect((await call("/api/orders", fresh)).status).toBe(200);
  });

  it("believes nothing the token claims: the subject, scopes and roles are the session's", async () => {
    const session = await login(gateway, "alice");
    const forged = () =>
      retiredTokenOf(session, { claims: { sub: "user-admin", scope: "read write admin", roles: ["operator"] } });
    const api = await call("/api/me", await forged(), session.refreshToken);
    expect(api.status).toBe(200);
    const seen = gateway.upstream.proxied().at(-1)?.headers;
    expect(seen?.["x-auth-subject"]).toBe("user-alice");
    expect(seen?.["x-auth-scopes"]).toBe("read write");
    expect(seen?.["x-auth-roles"]).toBe("member");
    const refreshed = api.headers.get("authorization")?.replace(/^Bearer /, "") ?? "";
    expect(decodeClaims(refreshed)).toMatchObject({ sub: "user-alice", scope: "read write", roles: ["member"] });
    // A route that needs the scope the token claims: refused, nothing forwarded.
    const before = gateway.upstream.proxied().length;
    const admin = await call("/admin/stats", await forged(), setCookie(api, REFRESH_COOKIE)?.value ?? "");
    expect(admin.status).toBe(403);
    expect(gateway.upstream.proxied()).toHaveLength(before);
  });

  it("serves racing requests with the same token and cookie from one rotation; the session survives", async () => {
    const session = await login(gateway);
    const token = await retiredTokenOf(session);
    const answers = await Promise.all(Array.from({ length: 10 }, () => call("/api/race", token, session.refreshToken)));
    expect(answers.map((answer) => answer.status)).toEqual(answers.map(() => 200));
    const cookies = new Set(answers.map((answer) => setCookie(answer, REFRESH_COOKIE)?.value));
    expect(cookies.size).toBe(1);
    await expectAlive({ ...session, refreshToken: [...cookies][0] ?? "" });
  });
});

describe("refused as before", () => {
  it("without a refresh cookie", async () => {
    const session = await login(gateway);
    await expectInvalidToken(await call("/api/x", await retiredTokenOf(session)));
  });

  it("with the cookie of another session: nothing is refreshed and neither session is touched", async () => {
    const [mine, other] = [await login(gateway), await login(gateway, "admin")];
    await expectInvalidToken(await call("/api/x", await retiredTokenOf(other), mine.refreshToken));
    await expectAlive(mine);
    await expectAlive(other);
  });

  it("with a key we have whose signature does not verify", async () => {
    const session = await login(gateway);
    const impostor = await makeKey("EdDSA", "test-ed25519");
    const forged = await mintToken(impostor, { claims: { sid: session.claims.sid } as never });
    await expectInvalidToken(await call("/api/x", forged, session.refreshToken));
    await expectAlive(session);
  });

  it.each([
    ["another issuer", { claims: { iss: "https://elsewhere.example" } }],
    ["another type", { header: { typ: "JWT" } }],
    ["no session claim", { claims: { sid: undefined } }],
  ] as const)("for a token that does not read as ours: %s", async (_name, options) => {
    const session = await login(gateway);
    await expectInvalidToken(
      await call("/api/x", await retiredTokenOf(session, options as MintOptions), session.refreshToken),
    );
    await expectAlive(session);
  });

  it("for an HS256 token naming an unknown kid", async () => {
    const session = await login(gateway);
    const [, payload] = (await retiredTokenOf(session)).split(".");
    const header = Buffer.from(JSON.stringify({ alg: "HS256", typ: "at+jwt", kid: "retired-2026-01" })).toString(
      "base64url",
    );
    await expectInvalidToken(await call("/api/x", `${header}.${payload}.c2lnbmF0dXJl`, session.refreshToken));
    await expectAlive(session);
  });

  it("for a session that ended: the dead cookie is cleared", async () => {
    const session = await login(gateway);
    const logout = await gateway.fetch("/auth/logout", {
      method: "POST",
      headers: { cookie: refreshCookieHeader(session.refreshToken) },
    });
    expect(logout.status).toBe(204);
    await expectInvalidToken(await call("/api/x", await retiredTokenOf(session), session.refreshToken), "cleared");
  });

  it("on an endpoint that does not hand tokens back (GET /auth/sessions)", async () => {
    const session = await login(gateway);
    await expectInvalidToken(await call("/auth/sessions", await retiredTokenOf(session), session.refreshToken));
    await expectAlive(session);
  });
});
