/**
 * Drives the test IdP's devInteractions without a browser: fetch with a tough-cookie jar, every
 * redirect followed by hand, so a test sees each hop a browser would make.
 *
 *   const s = await loginThroughIdp(gateway.url, { login: "alice", returnTo: "/orders" });
 *   s.response         // the gateway's answer to the callback (303 to return_to, session cookies)
 *   s.callbackUrl      // the callback URL the IdP sent the browser to (code, state, iss)
 *   s.cookieHeader()   // the gateway's cookies in the jar, as a Cookie header
 *   s.jar              // the browser's jar: gateway cookies AND the IdP's session cookies
 *
 * Options: `jar` (continue a browser, e.g. several tabs or a second login), `login` (any name;
 * devInteractions accepts any password), `returnTo`, `stopAtCallback` (return before the gateway
 * sees the callback, for replay/state attacks), `editCallback` (rewrite the callback URL first).
 * `idpHops(url, jar)` follows an authorization URL through login and consent to the callback.
 * `logoutAtIdp(idp, jar)` ends the IdP session as a user clicking "sign out" at the IdP does,
 * which makes the IdP post back-channel logout to the gateway before it answers.
 * `followRedirects(response, jar)` follows a response's redirects (e.g. the gateway's 303 after
 * logout to the IdP's end_session endpoint) with the jar.
 */
import { CookieJar } from "tough-cookie";
import { CALLBACK_PATH, type TestIdp } from "./oidc-idp";

const MAX_HOPS = 20;
/** A LOGIN_PROVIDERS entry's callback (/auth/login/<id>/callback). */
const PROVIDER_CALLBACK = /^\/auth\/login\/[a-z0-9_-]+\/callback$/;

export interface IdpLogin {
  readonly jar: CookieJar;
  readonly callbackUrl: URL;
  /** The gateway's answer to the callback; undefined with `stopAtCallback`. */
  readonly response: Response | undefined;
  /** The gateway's cookies now in the jar, as one Cookie header value. */
  cookieHeader(): Promise<string>;
}

export interface IdpLoginOptions {
  readonly jar?: CookieJar;
  readonly login?: string;
  readonly returnTo?: string;
  readonly stopAtCallback?: boolean;
  readonly editCallback?: (url: URL) => URL | string;
  /** Where the login starts (default /auth/oidc/login; `/auth/login/<id>` for another provider). */
  readonly loginPath?: string;
  /** Extra headers for the request to /auth/oidc/login (e.g. Sec-Fetch-Mode). */
  readonly headers?: Record<string, string | undefined>;
}

export function newJar(): CookieJar {
  // 127.0.0.1 counts as a secure context (as in browsers), so __Host-/Secure cookies are kept.
  return new CookieJar(undefined, { allowSecureOnLocal: true, prefixSecurity: "strict" });
}

/** One request with the jar's cookies, storing the answer's cookies; never follows redirects. */
export async function jarFetch(jar: CookieJar, url: string | URL, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  const cookie = await jar.getCookieString(url.toString());
  if (cookie) headers.set("cookie", cookie);
  const response = await fetch(url, { ...init, headers, redirect: "manual" });
  for (const line of response.headers.getSetCookie()) await jar.setCookie(line, url.toString());
  return response;
}

function decodeHtml(text: string): string {
  return text
    .replace(/&#x([0-9a-f]+);/gi, (_, hex: string) => String.fromCodePoint(Number.parseInt(hex, 16)))
    .replace(/&#(\d+);/g, (_, dec: string) => String.fromCodePoint(Number(dec)))
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}

/** The first POST form of a page: its action and hidden fields. */
function parseForm(html: string, base: string): { action: URL; fields: Record<string, string> } {
  const form = /<form\b[^>]*\baction="([^"]*)"[^>]*>([\s\S]*?)<\/form>/i.exec(html);
  if (!form) throw new Error(`no form on the IdP page ${base}: ${html.slice(0, 300)}`);
  const fields: Record<string, string> = {};
  for (const input of (form[2] ?? "").matchAll(/<input\b[^>]*>/gi)) {
    const name = /\bname="([^"]*)"/i.exec(input[0])?.[1];
    const value = /\bvalue="([^"]*)"/i.exec(input[0])?.[1] ?? "";
    if (name) fields[name] = decodeHtml(value);
  }
  return { action: new URL(decodeHtml(form[1] ?? ""), base), fields };
}

function redirectTarget(response: Response, from: string | URL): URL {
  const location = response.headers.get("location");
  if (!location) throw new Error(`${response.status} from ${from} without Location`);
  return new URL(location, from);
}

/**
 * Follows an authorization URL at the IdP (login form, consent form) until the IdP redirects to
 * the gateway's callback; returns that callback URL without requesting it.
 */
export async function idpHops(authorizationUrl: URL, jar: CookieJar, login = "alice"): Promise<URL> {
  let url = authorizationUrl;
  let init: RequestInit = {};
  for (let hop = 0; hop < MAX_HOPS; hop += 1) {
    if (url.pathname === CALLBACK_PATH || PROVIDER_CALLBACK.test(url.pathname)) return url;
    const response = await jarFetch(jar, url, init);
    init = {};
    if (response.status >= 300 && response.status < 400) {
      await response.body?.cancel();
      url = redirectTarget(response, url);
      continue;
    }
    const html = await response.text();
    if (response.status !== 200)
      throw new Error(`IdP answered ${response.status} at ${url.pathname}: ${html.slice(0, 300)}`);
    const { action, fields } = parseForm(html, url.toString());
    if (fields.prompt === "login") Object.assign(fields, { login, password: "any-password" });
    // The IdP's form_post page (e.g. a logout confirmation) carries its fields as hidden inputs.
    init = {
      method: "POST",
      body: new URLSearchParams(fields),
      headers: { "content-type": "application/x-www-form-urlencoded" },
    };
    url = action;
  }
  throw new Error(`more than ${MAX_HOPS} hops from ${authorizationUrl}`);
}

/** The whole browser login: gateway → IdP login + consent → gateway callback (→ 303 to return_to). */
export async function loginThroughIdp(gatewayUrl: string, options: IdpLoginOptions = {}): Promise<IdpLogin> {
  const jar = options.jar ?? newJar();
  const start = new URL(options.loginPath ?? "/auth/oidc/login", gatewayUrl);
  if (options.returnTo !== undefined) start.searchParams.set("return_to", options.returnTo);
  const headers = Object.entries(options.headers ?? {}).filter(
    (entry): entry is [string, string] => entry[1] !== undefined,
  );
  const first = await jarFetch(jar, start, { headers });
  await first.body?.cancel();
  if (first.status !== 302 && first.status !== 303)
    throw new Error(`gateway answered ${first.status} to ${start.pathname}${start.search}`);
  let callbackUrl = await idpHops(redirectTarget(first, start), jar, options.login);
  if (callbackUrl.origin !== new URL(gatewayUrl).origin) throw new Error(`IdP redirected to ${callbackUrl.origin}`);
  if (options.editCallback) callbackUrl = new URL(options.editCallback(new URL(callbackUrl)).toString(), gatewayUrl);
  const response = options.stopAtCallback ? undefined : await jarFetch(jar, callbackUrl);
  return {
    jar,
    callbackUrl,
    response,
    cookieHeader: () => gatewayCookieHeader(jar, gatewayUrl),
  };
}

/**
 * The gateway's cookies in the jar as a Cookie header. Browsers (and the jar) do not separate
 * cookies by port, so the IdP's own cookies (`_session`, `_interaction`…) on 127.0.0.1 are left out.
 */
export async function gatewayCookieHeader(jar: CookieJar, gatewayUrl: string): Promise<string> {
  const cookies = await jar.getCookies(gatewayUrl);
  return cookies
    .filter((cookie) => !/^_[^_]/.test(cookie.key))
    .map((cookie) => cookie.cookieString())
    .join("; ");
}

/**
 * Where the gateway's answer to a callback sends the browser on: the Location of a 303, or,
 * with SameSite=Strict cookies, the URL of the page that continues there (its meta refresh,
 * HTML-escaped). Undefined for any other answer. Reads the body of a 200 page, unless it
 * was read already and is given.
 */
export async function continuesTo(response: Response | undefined, body?: string): Promise<string | undefined> {
  if (response === undefined) return undefined;
  if (response.status === 303) return response.headers.get("location") ?? undefined;
  if (response.status !== 200 || !response.headers.get("content-type")?.startsWith("text/html")) return undefined;
  const html = body ?? (await response.clone().text());
  const refresh = /<meta http-equiv="refresh" content="0;url=([^"]*)">/.exec(html)?.[1];
  return refresh === undefined ? undefined : decodeHtml(refresh);
}

/** Follows redirects with the jar, up to the first non-redirect answer. */
export async function followRedirects(response: Response, from: string | URL, jar: CookieJar): Promise<Response> {
  let current = response;
  let url = new URL(from);
  for (let hop = 0; hop < MAX_HOPS && current.status >= 300 && current.status < 400; hop += 1) {
    await current.body?.cancel();
    url = redirectTarget(current, url);
    current = await jarFetch(jar, url);
  }
  return current;
}

/**
 * Ends the user's session at the IdP (its end_session page, "Yes, sign me out"), as a browser with
 * this jar would. The IdP posts back-channel logout to every client before it answers; the results
 * are in `idp.backchannel`. Returns the IdP's last answer.
 */
export async function logoutAtIdp(idp: TestIdp, jar: CookieJar): Promise<Response> {
  const page = await jarFetch(jar, `${idp.issuer}/session/end`);
  const html = await page.text();
  if (page.status !== 200) throw new Error(`IdP end_session answered ${page.status}`);
  const { action, fields } = parseForm(html, `${idp.issuer}/session/end`);
  const confirm = await jarFetch(jar, action, {
    method: "POST",
    body: new URLSearchParams({ ...fields, logout: "yes" }),
    headers: { "content-type": "application/x-www-form-urlencoded" },
  });
  return followRedirects(confirm, action, jar);
}
