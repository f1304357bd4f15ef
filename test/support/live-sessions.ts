/**
 * Sessions that live through a rotation. Each remembers the newest tokens a client would
 * hold; `exercise` proves on the gateway as deployed now that the session still works in
 * every way a client uses it, adopting whatever tokens the answers hand out:
 *
 *   1. an API call with its newest access token (and the refresh cookie, as a browser sends it)
 *   2. a transparent refresh: an expired access token of the session plus the refresh cookie
 *   3. an explicit refresh: POST /auth/refresh with the cookie
 *   4. an API call with the token that refresh gave, without the cookie
 *
 * Every answer must be 200 and the upstream must see the session's own subject and id.
 */
import { importJWK, type JWK } from "jose";
import { expect } from "vitest";
import type { Gateway } from "./gateway";
import { REFRESH_COOKIE, refreshCookieHeader, setCookie } from "./session-helpers";
import type { TestKey } from "./test-keys";
import { decodeClaims, mintToken } from "./tokens";

export interface LiveSession {
  readonly name: string;
  readonly sub: string;
  readonly sid: string;
  accessToken: string;
  refreshToken: string;
}

export function liveSession(name: string, accessToken: string, refreshToken: string): LiveSession {
  const claims = decodeClaims(accessToken);
  return { name, sub: String(claims.sub), sid: String(claims.sid), accessToken, refreshToken };
}

/** A TestKey (for mintToken) from a private JWK, e.g. one `npm run keygen` printed. */
export async function testKeyOf(privateJwk: JWK): Promise<TestKey> {
  const { d: _d, ...publicJwk } = privateJwk;
  const privateKey = (await importJWK(privateJwk, privateJwk.alg)) as CryptoKey;
  return { privateJwk, publicJwk, privateKey };
}

/** An access token of the session that expired an hour ago, signed with `key`, as a client that kept one holds. */
export function expiredTokenOf(session: LiveSession, key: TestKey): Promise<string> {
  const { sub, sid, auth_time, scope, roles } = decodeClaims(session.accessToken);
  return mintToken(key, { claims: { sub, sid, auth_time, scope, roles } as never, iatOffset: -3600, ttl: 900 });
}

/** The kid in a token's header. */
export function kidOf(token: string): string | undefined {
  const [header = ""] = token.split(".");
  return (JSON.parse(Buffer.from(header, "base64url").toString("utf8")) as { kid?: string }).kid;
}

/** Adopt the tokens an answer handed out (a transparent refresh's header and cookie). */
function adopt(session: LiveSession, response: Response): void {
  const cookie = setCookie(response, REFRESH_COOKIE)?.value;
  if (cookie) session.refreshToken = cookie;
  const authorization = response.headers.get("authorization");
  if (authorization?.startsWith("Bearer ")) session.accessToken = authorization.slice("Bearer ".length);
}

async function expectServedAs(gateway: Gateway, session: LiveSession, response: Response, step: string) {
  const body = await response.text();
  expect(response.status, `${session.name}: ${step} answered ${response.status} ${body}`).toBe(200);
  const seen = gateway.upstream.proxied().at(-1)?.headers;
  expect(seen?.["x-auth-subject"], `${session.name}: ${step}`).toBe(session.sub);
  expect(seen?.["x-auth-session"], `${session.name}: ${step}`).toBe(session.sid);
}

/** Steps 1–4 above. `expired` is an expired access token of the session (see `expiredTokenOf`). */
export async function exercise(gateway: Gateway, session: LiveSession, expired: string): Promise<void> {
  const withCookie = (token: string) => ({
    headers: { authorization: `Bearer ${token}`, cookie: refreshCookieHeader(session.refreshToken) },
  });
  const api = await gateway.fetch("/api/live", withCookie(session.accessToken));
  adopt(session, api);
  await expectServedAs(gateway, session, api, "an API call with its newest token");

  const transparent = await gateway.fetch("/api/transparent", withCookie(expired));
  expect(transparent.headers.get("authorization"), `${session.name}: a transparent refresh`).toMatch(/^Bearer /);
  adopt(session, transparent);
  await expectServedAs(gateway, session, transparent, "a transparent refresh");

  const explicit = await gateway.fetch("/auth/refresh", {
    method: "POST",
    headers: { cookie: refreshCookieHeader(session.refreshToken) },
  });
  const text = await explicit.text();
  expect(explicit.status, `${session.name}: an explicit refresh answered ${explicit.status} ${text}`).toBe(200);
  adopt(session, explicit);
  session.accessToken = (JSON.parse(text) as { access_token: string }).access_token;
  expect(decodeClaims(session.accessToken)).toMatchObject({ sub: session.sub, sid: session.sid });

  const after = await gateway.fetch("/api/after", { headers: { authorization: `Bearer ${session.accessToken}` } });
  await expectServedAs(gateway, session, after, "an API call with the refreshed token");
}

/** The gateway's log lines at error level (a rotation step must cause none, unless a test expects one). */
export function errorLines(gateway: Gateway): string[] {
  return gateway.logs.filter((line) => line.includes('"level":"error"'));
}
