/**
 * The gateway's cookies: the one place that names, reads, sets and strips them.
 *
 * Both use the `__Host-` prefix (Secure, Path=/, no Domain), so a sibling subdomain
 * cannot plant or overwrite them. Setting goes through hono's serializer, which enforces
 * the prefix rules.
 */
import { serialize } from "hono/utils/cookie";
import type { SameSite } from "../config/config";

export const REFRESH_COOKIE = "__Host-portcullis-refresh";
export const ACCESS_COOKIE = "__Host-portcullis-access";
const GATEWAY_COOKIES = new Set([REFRESH_COOKIE.toLowerCase(), ACCESS_COOKIE.toLowerCase()]);
// Some upstream cookie parsers also split on ","; a gateway cookie hidden after a comma
// inside another pair must not reach them either.
const GATEWAY_COOKIE_ANYWHERE = /__host-portcullis-(refresh|access)\s*=/i;

/** Every value sent for `name` (more than one means someone planted a copy). */
export function cookieValues(header: string | null, name: string): string[] {
  if (!header) return [];
  const values: string[] = [];
  for (const pair of header.split(";")) {
    const eq = pair.indexOf("=");
    if (eq === -1) continue;
    if (pair.slice(0, eq).trim() !== name) continue;
    let value = pair.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    values.push(value);
  }
  return values;
}

/**
 * The Cookie header without the gateway's cookies (any letter case, so a look-alike
 * cannot smuggle them through); undefined when nothing is left.
 */
export function withoutGatewayCookies(header: string | null): string | undefined {
  if (!header) return undefined;
  const kept = header
    .split(";")
    .filter((pair) => {
      const eq = pair.indexOf("=");
      const name = (eq === -1 ? pair : pair.slice(0, eq)).trim().toLowerCase();
      return name !== "" && !GATEWAY_COOKIES.has(name) && !GATEWAY_COOKIE_ANYWHERE.test(pair);
    })
    .map((pair) => pair.trim());
  return kept.length > 0 ? kept.join("; ") : undefined;
}

export interface CookieSettings {
  readonly sameSite: SameSite;
}

function gatewayCookie(name: string, value: string, maxAge: number, settings: CookieSettings): string {
  return serialize(name, value, {
    path: "/",
    secure: true,
    httpOnly: true,
    sameSite: settings.sameSite,
    maxAge,
  });
}

export function refreshCookie(token: string, maxAge: number, settings: CookieSettings): string {
  return gatewayCookie(REFRESH_COOKIE, token, maxAge, settings);
}

export function accessCookie(token: string, maxAge: number, settings: CookieSettings): string {
  return gatewayCookie(ACCESS_COOKIE, token, maxAge, settings);
}

/** Set-Cookie values that remove both gateway cookies. */
export function clearedCookies(settings: CookieSettings): string[] {
  return [gatewayCookie(REFRESH_COOKIE, "", 0, settings), gatewayCookie(ACCESS_COOKIE, "", 0, settings)];
}
