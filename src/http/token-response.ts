/**
 * The answers that hand out tokens: the RFC 6749 §5.1 token response, with the refresh
 * token in the HttpOnly cookie (browsers) or in the body (clients that sent it in a form),
 * and the headers a transparent refresh adds to a proxied answer.
 */
import type { GatewayConfig } from "../config/config";
import { accessCookie, clearedCookies, refreshCookie } from "./cookies";

/**
 * What these answers hand out: the part of a session's grant (sessions/ `GrantedTokens`)
 * they read. Declared here, so this lower layer imports neither sessions/ nor tokens/.
 */
export interface HandedTokens {
  /** `jkt`: the DPoP key the token is bound to (token_type "DPoP"); undefined for a bearer token. */
  readonly accessToken: { readonly token: string; readonly expiresIn: number; readonly jkt?: string | undefined };
  readonly refreshToken: string;
  /** Seconds the refresh cookie should live. */
  readonly refreshMaxAge: number;
  readonly session: { readonly scope: readonly string[] };
}

export interface TokenResponseOptions {
  /** Put the refresh token in the body instead of the cookie (non-browser clients). */
  readonly refreshInBody: boolean;
  readonly setAccessCookie: boolean;
}

export function sessionCookies(config: GatewayConfig, granted: HandedTokens, setAccessCookie: boolean): string[] {
  const settings = { sameSite: config.cookieSameSite };
  const cookies = [refreshCookie(granted.refreshToken, granted.refreshMaxAge, settings)];
  // The access cookie outlives the token inside it on purpose: an expired token plus
  // the refresh cookie is what lets the gateway refresh transparently.
  if (setAccessCookie) cookies.push(accessCookie(granted.accessToken.token, granted.refreshMaxAge, settings));
  return cookies;
}

export function tokenResponse(config: GatewayConfig, granted: HandedTokens, options: TokenResponseOptions): Response {
  const body: Record<string, unknown> = {
    access_token: granted.accessToken.token,
    token_type: granted.accessToken.jkt === undefined ? "Bearer" : "DPoP",
    expires_in: granted.accessToken.expiresIn,
  };
  if (granted.session.scope.length > 0) body.scope = granted.session.scope.join(" ");
  const headers = new Headers({ "content-type": "application/json", "cache-control": "no-store", pragma: "no-cache" });
  if (options.refreshInBody) body.refresh_token = granted.refreshToken;
  else
    for (const cookie of sessionCookies(config, granted, options.setAccessCookie)) headers.append("set-cookie", cookie);
  return new Response(JSON.stringify(body), { status: 200, headers });
}

/** Add a transparent refresh's results to a proxied answer (mutates `headers`). */
export function applyRefresh(
  headers: Headers,
  config: GatewayConfig,
  granted: HandedTokens,
  setAccessCookie: boolean,
): void {
  for (const cookie of sessionCookies(config, granted, setAccessCookie)) headers.append("set-cookie", cookie);
  const scheme = granted.accessToken.jkt === undefined ? "Bearer" : "DPoP";
  headers.set("authorization", `${scheme} ${granted.accessToken.token}`);
  const exposed = headers.get("access-control-expose-headers");
  if (
    !exposed
      ?.toLowerCase()
      .split(",")
      .some((name) => name.trim() === "authorization")
  ) {
    headers.set("access-control-expose-headers", exposed ? `${exposed}, Authorization` : "Authorization");
  }
  headers.set("cache-control", "no-store");
}

export function appendClearedCookies(headers: Headers, config: GatewayConfig): Headers {
  for (const cookie of clearedCookies({ sameSite: config.cookieSameSite })) headers.append("set-cookie", cookie);
  return headers;
}
