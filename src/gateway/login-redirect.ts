/**
 * How an unauthenticated request to a protected route is answered when login through an
 * OpenID Connect provider is configured: a browser navigation (`Sec-Fetch-Mode: navigate`,
 * or without that header a GET that accepts text/html) gets a 302 to the login carrying
 * `return_to`; everything else (fetch/XHR, API clients) keeps the RFC 6750 401 — a 302
 * to the provider would only be a CORS error there. A route rule can force either
 * (`unauthenticated = "login"` or `"challenge"`).
 */

import { loginProviderById } from "../config/parse-login-providers";
import { htmlPage } from "../errors/error-page";
import type { GatewayError, StepUp } from "../errors/gateway-error";
import { cookieValues, LANDED_COOKIE, LANDED_STEP_UP, landedCookie } from "../http/cookies";
import { appendClearedCookies } from "../http/token-response";
import { log } from "../log/logger";
import { loginEntryPath, loginPathOf } from "../oidc/endpoints";
import type { RouteDecision } from "../policy/route-policy";
import type { RequestContext } from "./request-context";
import { routeOf } from "./route-of";

// Refusals a sign-in at the provider mends: no usable token, or (step-up) one whose
// sign-in is too old or too weak for the route.
const UNAUTHENTICATED = new Set([
  "token_missing",
  "token_expired",
  "token_invalid",
  "token_revoked",
  "insufficient_user_authentication",
]);

/** Is this request a browser navigating (rather than a script fetching)? */
export function isNavigation(request: Request): boolean {
  if (request.method !== "GET" && request.method !== "HEAD") return false;
  const mode = request.headers.get("sec-fetch-mode");
  if (mode !== null) return mode === "navigate";
  return (request.headers.get("accept") ?? "").toLowerCase().includes("text/html");
}

/**
 * Whether a refusal with `code` of a request to `route` is a 302 to the login rather than
 * the 401: the Worker asks it of a request, `portcullis explain` (request-answer.ts) of
 * what it was told about one.
 */
export function redirectsToLogin(
  oidc: { readonly loginRedirect: boolean } | undefined,
  code: string,
  route: RouteDecision,
  request: { readonly underAuth: boolean; readonly navigation: boolean },
): boolean {
  if (oidc === undefined || !UNAUTHENTICATED.has(code) || request.underAuth) return false;
  if (route.access === "public" || route.unauthenticated === "challenge") return false;
  return route.unauthenticated === "login" || (oidc.loginRedirect && request.navigation);
}

/** The 302 to the login for this refusal, or undefined when the 401 stands. */
export function loginRedirectFor(context: RequestContext, request: Request, error: GatewayError): Response | undefined {
  const { config } = context;
  if (config.oidc === undefined || !UNAUTHENTICATED.has(error.code) || !context.canonical.ok) return undefined;
  const redirects = redirectsToLogin(config.oidc, error.code, routeOf(context), {
    underAuth: context.path.startsWith("/auth/"),
    navigation: isNavigation(request),
  });
  if (!redirects) return undefined;
  // A login just completed: if it did not mend this refusal, another would not either. A
  // plain login that lands short of a route's step-up is not that: the step-up login may.
  const landed = cookieValues(context.incoming.cookie, LANDED_COOKIE);
  const stepUp = error.code === "insufficient_user_authentication";
  if (stepUp ? landed.includes(LANDED_STEP_UP) : landed.length > 0) return loopStopped(context, error);
  // A step-up goes back to the provider the session signed in with; anything else to the
  // one provider's login, or to the chooser.
  // (GitHub cannot be asked for a recent or stronger sign-in: the chooser offers the others.)
  const provider = loginProviderById(config.loginProviders, error.stepUp?.provider ?? "");
  const path =
    provider !== undefined && provider.kind === "oidc" ? loginPathOf(provider) : loginEntryPath(config.loginProviders);
  const location = `${path}?${loginQuery(`${context.path}${context.url.search}`, error.stepUp)}`;
  const headers = new Headers({ location, "cache-control": "no-store", vary: "Sec-Fetch-Mode, Accept" });
  if (error.clearSession) appendClearedCookies(headers, config);
  return new Response(null, { status: 302, headers });
}

/** The login's query: where to come back to, and for a step-up what the provider must be asked for. */
function loginQuery(returnTo: string, stepUp: StepUp | undefined): string {
  let query = `return_to=${encodeURIComponent(returnTo)}`;
  if (stepUp?.maxAge !== undefined) query += `&max_age=${stepUp.maxAge}`;
  if (stepUp?.acrValues !== undefined) query += `&acr_values=${encodeURIComponent(stepUp.acrValues.join(" "))}`;
  return query;
}

/**
 * The loop guard: this browser completed a login within the last minute and still arrives
 * without a usable session (its cookies blocked, or not sent back). Another redirect would
 * start another login, and another session, in a loop; a page that says so ends it.
 */
function loopStopped(context: RequestContext, error: GatewayError): Response {
  log.warn("oidc_login_loop_stopped", { requestId: context.requestId, code: error.code, detail: error.detail });
  const headers = new Headers({ vary: "Sec-Fetch-Mode, Accept", "x-request-id": context.requestId });
  headers.append("set-cookie", landedCookie(false));
  if (error.clearSession) appendClearedCookies(headers, context.config);
  if (error.code === "insufficient_user_authentication") {
    return htmlPage({
      status: 401,
      title: "Signed in, but not as this page requires",
      paragraphs: [
        "This page needs a more recent or stronger sign-in than the identity provider just performed, so this browser was not sent to sign in again.",
        "Sign in again with the method your organization requires (for example a second factor). If it keeps happening, tell the site's operators (request id " +
          `${context.requestId}).`,
      ],
      headers,
    });
  }
  return htmlPage({
    status: 401,
    title: "Signed in, but the session did not arrive",
    paragraphs: [
      "The sign-in at the identity provider succeeded, but this browser came back without the session it was given, so it was not sent to sign in again.",
      "Allow cookies for this site and try again. If it keeps happening, tell the site's operators (request id " +
        `${context.requestId}).`,
    ],
    headers,
  });
}
