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
/** One per login in progress (OIDC): `__Host-portcullis-oidc-<first 16 chars of state>`. */
export const LOGIN_TRANSACTION_COOKIE_PREFIX = "__Host-portcullis-oidc-";
/** Set by a successful OIDC callback for a minute: a navigation that still has no session is not sent back to the login. */
export const LANDED_COOKIE = "__Host-portcullis-landed";
const LANDED_SECONDS = 60;
/** Every cookie of the gateway's starts with this (compared in lower case). */
const GATEWAY_COOKIE_PREFIX = "__host-portcullis-";
// Some upstream cookie parsers also split on ","; a gateway cookie hidden after a comma
// inside another pair must not reach them either.
const GATEWAY_COOKIE_ANYWHERE = /__host-portcullis-[^=]*=/i;

// A cookie name the gateway owns, in any letter case and with or without a prefix: the
// upstream may neither set nor clear one of these (`withoutGatewaySetCookies`).
const OWNED_COOKIE_NAME = /^(?:__host-|__secure-)?portcullis-/;

/**
 * Does this `Set-Cookie` value set (or clear) a cookie the gateway owns? A value without
 * `=` sets a nameless cookie whose text is all of it (RFC 6265bis §5.6), so that text counts.
 */
export function setsGatewayCookie(setCookie: string): boolean {
  const semicolon = setCookie.indexOf(";");
  const pair = semicolon === -1 ? setCookie : setCookie.slice(0, semicolon);
  const eq = pair.indexOf("=");
  return OWNED_COOKIE_NAME.test((eq === -1 ? pair : pair.slice(0, eq)).trim().toLowerCase());
}

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
      return name !== "" && !name.startsWith(GATEWAY_COOKIE_PREFIX) && !GATEWAY_COOKIE_ANYWHERE.test(pair);
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

/** Set-Cookie values that remove the session's cookies (and a fresh login's marker, landedCookie). */
export function clearedCookies(settings: CookieSettings): string[] {
  return [
    gatewayCookie(REFRESH_COOKIE, "", 0, settings),
    gatewayCookie(ACCESS_COOKIE, "", 0, settings),
    landedCookie(false),
  ];
}

/** The LANDED_COOKIE value of a login that was a step-up (asked for max_age or acr_values). */
export const LANDED_STEP_UP = "step-up";

/**
 * The marker of a login that just completed (LANDED_COOKIE), or its removal. SameSite=Lax,
 * whatever COOKIE_SAMESITE says, so it rides the navigation that comes back from the
 * provider even where the session's Strict cookies do not. It holds no credential; its
 * value says whether the login was a step-up.
 */
export function landedCookie(present: boolean, stepUp = false): string {
  return serialize(LANDED_COOKIE, present ? (stepUp ? LANDED_STEP_UP : "1") : "", {
    path: "/",
    secure: true,
    httpOnly: true,
    sameSite: "Lax",
    maxAge: present ? LANDED_SECONDS : 0,
  });
}

/** Names and values of the login-transaction cookies a request carries, in header order. */
export function loginTransactionCookies(header: string | null): { name: string; value: string }[] {
  if (!header) return [];
  const found: { name: string; value: string }[] = [];
  for (const pair of header.split(";")) {
    const eq = pair.indexOf("=");
    if (eq === -1) continue;
    const name = pair.slice(0, eq).trim();
    if (name.startsWith(LOGIN_TRANSACTION_COOKIE_PREFIX)) found.push({ name, value: pair.slice(eq + 1).trim() });
  }
  return found;
}

/**
 * A login-transaction cookie. SameSite=Lax, whatever COOKIE_SAMESITE says: the provider
 * sends the browser back to the callback in a cross-site top-level navigation, which a
 * Strict cookie would not ride on. It holds only a sealed transaction, no credential.
 */
export function loginTransactionCookie(name: string, value: string, maxAge: number): string {
  return serialize(name as `__Host-${string}`, value, {
    path: "/",
    secure: true,
    httpOnly: true,
    sameSite: "Lax",
    maxAge,
  });
}
