/** Logging in and handling the gateway's cookies in tests. */
import { expect } from "vitest";
import type { Gateway } from "./gateway";
import { decodeClaims, mintToken } from "./tokens";
import { TEST_USERS } from "./upstream";

export const REFRESH_COOKIE = "__Host-portcullis-refresh";

export interface LoggedIn {
  readonly accessToken: string;
  readonly refreshToken: string;
  readonly claims: Record<string, unknown>;
}

/** The value a Set-Cookie list gives `name`, and its attributes. */
export function setCookie(response: Response, name: string): { value: string; attributes: string } | undefined {
  for (const line of response.headers.getSetCookie()) {
    const [pair = "", ...rest] = line.split(";");
    const eq = pair.indexOf("=");
    if (pair.slice(0, eq).trim() === name) return { value: pair.slice(eq + 1), attributes: rest.join(";").trim() };
  }
  return undefined;
}

export async function login(gateway: Gateway, user: keyof typeof TEST_USERS = "alice"): Promise<LoggedIn> {
  const credentials = TEST_USERS[user];
  const response = await gateway.fetch("/auth/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: user, password: credentials?.password }),
  });
  expect(response.status).toBe(200);
  const body = (await response.json()) as { access_token: string };
  const cookie = setCookie(response, REFRESH_COOKIE);
  expect(cookie).toBeDefined();
  return { accessToken: body.access_token, refreshToken: cookie?.value ?? "", claims: decodeClaims(body.access_token) };
}

/** An access token of the same session that expired a while ago (as if time had passed). */
export function expiredTokenFor(gateway: Gateway, session: LoggedIn): Promise<string> {
  const { sub, sid, auth_time, scope, roles } = session.claims;
  return mintToken(gateway.key, { claims: { sub, sid, auth_time, scope, roles } as never, iatOffset: -3600, ttl: 900 });
}

export function refreshCookieHeader(refreshToken: string): string {
  return `${REFRESH_COOKIE}=${refreshToken}`;
}
