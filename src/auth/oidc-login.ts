/**
 * GET /auth/login/<provider>?return_to=/path (and /auth/oidc/login, the OIDC_* settings'
 * provider's) — start a login at that provider: a 302 to its authorization endpoint (code,
 * PKCE S256, state, and for OpenID Connect a nonce), the transaction sealed in its own
 * short-lived cookie. A step-up adds `&max_age=…&acr_values=…`; the chooser's home-realm
 * routing adds `&login_hint=<email>`.
 */
import type { GatewayMode, OidcConfig } from "../config/config";
import { ConfigError } from "../config/env-readers";
import { GatewayError } from "../errors/gateway-error";
import type { RequestContext } from "../gateway/request-context";
import { enforceRateLimit, ipKey } from "../http/rate-limit";
import { authorizationRequest, type StepUpRequest } from "../oidc/authorization-request";
import { callbackPathOf, LOGIN_CHOOSER_PATH } from "../oidc/endpoints";
import { providerFor } from "../oidc/provider";
import { safeReturnTo } from "../oidc/return-to";
import { isRequirementValue, MAX_AUTH_AGE_LIMIT, MAX_REQUIREMENT_VALUES } from "../policy/authentication-requirement";
import { loginProvidersOf, providerOfPath } from "./login-provider-of";
import { storeTransaction } from "./oidc-transaction";

/**
 * The redirect_uri: the provider's own (OIDC_REDIRECT_URI, or an entry's `redirect_uri`),
 * or `<this origin>` and its callback path. Production refuses an http: one either way, as
 * the parser refuses an explicit one: the code and the session cookies must not travel in
 * the clear.
 */
export function redirectUriFor(oidc: OidcConfig, mode: GatewayMode, requestUrl: URL): string {
  if (oidc.redirectUri !== undefined) return oidc.redirectUri;
  if (mode === "production" && requestUrl.protocol !== "https:") {
    const setting = oidc.fromOidcSettings ? "OIDC_REDIRECT_URI" : `LOGIN_PROVIDERS (${oidc.id}) redirect_uri`;
    throw new ConfigError(
      setting,
      `must be https in production; the default derived from this request's origin (${requestUrl.origin}) is not: serve the gateway over https or set ${setting}`,
    );
  }
  return `${requestUrl.origin}${callbackPathOf(oidc)}`;
}

/** A login_hint (the chooser's email), passed on to the provider; at most an address's length. */
function loginHintOf(query: URLSearchParams): string | undefined {
  const hint = query.get("login_hint");
  if (hint === null) return undefined;
  if (!/^[\x21-\x7e]{1,254}$/.test(hint)) {
    throw new GatewayError("request_invalid", { detail: "login_hint must be at most 254 visible characters" });
  }
  return hint;
}

/**
 * `max_age` and `acr_values`, as the gateway's step-up redirect (gateway/login-redirect.ts)
 * sets them: what the provider must be asked for so the new session meets the route. A
 * client may set them too; they only make the sign-in stricter.
 */
function stepUpRequestOf(query: URLSearchParams): StepUpRequest {
  const maxAgeText = query.get("max_age");
  const acrText = query.get("acr_values");
  let maxAge: number | undefined;
  if (maxAgeText !== null) {
    maxAge = /^\d{1,9}$/.test(maxAgeText) ? Number(maxAgeText) : Number.NaN;
    if (!(maxAge <= MAX_AUTH_AGE_LIMIT)) {
      throw new GatewayError("request_invalid", { detail: "max_age must be a whole number of seconds" });
    }
  }
  let acrValues: string[] | undefined;
  if (acrText !== null) {
    acrValues = acrText.split(" ");
    // The values a route rule's `acr` may name, as the rule parser checks them.
    if (acrValues.length > MAX_REQUIREMENT_VALUES || !acrValues.every(isRequirementValue)) {
      throw new GatewayError("request_invalid", { detail: "acr_values must be values separated by single spaces" });
    }
  }
  return { maxAge, acrValues };
}

/**
 * GET /auth/oidc/login: the OIDC_* settings' provider, or the only provider there is; with
 * several and none of OIDC_*, the chooser (the path clients and older links know).
 */
export async function handleOidcLogin(context: RequestContext, request: Request): Promise<Response> {
  const providers = loginProvidersOf(context);
  const provider =
    providers.find((candidate) => candidate.fromOidcSettings) ?? (providers.length === 1 ? providers[0] : undefined);
  if (provider !== undefined) return startLogin(context, request, provider);
  const location = `${LOGIN_CHOOSER_PATH}${new URL(request.url).search}`;
  return new Response(null, { status: 302, headers: { location, "cache-control": "no-store" } });
}

/** GET /auth/login/<provider>. */
export function handleProviderLogin(context: RequestContext, request: Request): Promise<Response> {
  return startLogin(context, request, providerOfPath(context, "login"));
}

async function startLogin(context: RequestContext, request: Request, oidc: OidcConfig): Promise<Response> {
  const url = new URL(request.url);
  const redirectUri = redirectUriFor(oidc, context.config.mode, url);
  await enforceRateLimit(context, "LOGIN_IP_LIMIT", ipKey(context));
  const returnTo = safeReturnTo(url.searchParams.get("return_to"));
  if (returnTo === undefined) {
    throw new GatewayError("request_invalid", { detail: "return_to must be a path on this origin" });
  }
  const stepUp = stepUpRequestOf(url.searchParams);
  if (oidc.kind === "github" && (stepUp.maxAge !== undefined || stepUp.acrValues !== undefined)) {
    // GitHub neither re-authenticates on request nor reports how a user signed in: a session
    // from it could never meet a step-up, and would only come round again.
    throw new GatewayError("request_invalid", {
      detail: "GitHub cannot be asked for a recent or stronger sign-in (max_age, acr_values)",
    });
  }
  const loginHint = loginHintOf(url.searchParams);
  const now = context.now();
  const provider = await providerFor(oidc, now);
  const { url: location, transaction } = await authorizationRequest(provider, {
    redirectUri,
    returnTo,
    now,
    stepUp,
    loginHint,
  });
  const headers = new Headers({
    location: location.href,
    "cache-control": "no-store",
    "referrer-policy": "no-referrer",
  });
  for (const cookie of await storeTransaction(oidc, context.incoming.cookie, transaction)) {
    headers.append("set-cookie", cookie);
  }
  return new Response(null, { status: 302, headers });
}
