/**
 * GET /auth/oidc/login?return_to=/path — start a login at the OpenID Connect provider:
 * a 302 to its authorization endpoint (code, PKCE S256, state, nonce), the transaction
 * sealed in its own short-lived cookie. A step-up adds `&max_age=…&acr_values=…`.
 */
import type { GatewayMode, OidcConfig } from "../config/config";
import { ConfigError } from "../config/env-readers";
import { GatewayError } from "../errors/gateway-error";
import type { RequestContext } from "../gateway/request-context";
import { enforceRateLimit, ipKey } from "../http/rate-limit";
import { authorizationRequest, type StepUpRequest } from "../oidc/authorization-request";
import { OIDC_CALLBACK_PATH } from "../oidc/endpoints";
import { providerFor } from "../oidc/provider";
import { safeReturnTo } from "../oidc/return-to";
import { isRequirementValue, MAX_AUTH_AGE_LIMIT, MAX_REQUIREMENT_VALUES } from "../policy/authentication-requirement";
import { storeTransaction } from "./oidc-transaction";

/** The OIDC settings, or a 404 when login through a provider is not configured. */
export function oidcConfigOf(context: RequestContext): OidcConfig {
  const { oidc } = context.config;
  if (oidc === undefined) throw new GatewayError("oidc_disabled");
  return oidc;
}

/**
 * The redirect_uri: OIDC_REDIRECT_URI, or `<this origin>/auth/oidc/callback`. Production
 * refuses an http: one either way, as the parser refuses an explicit one: the code and the
 * session cookies must not travel in the clear.
 */
export function redirectUriFor(oidc: OidcConfig, mode: GatewayMode, requestUrl: URL): string {
  if (oidc.redirectUri !== undefined) return oidc.redirectUri;
  if (mode === "production" && requestUrl.protocol !== "https:") {
    throw new ConfigError(
      "OIDC_REDIRECT_URI",
      `must be https in production; the default derived from this request's origin (${requestUrl.origin}) is not: serve the gateway over https or set OIDC_REDIRECT_URI`,
    );
  }
  return `${requestUrl.origin}${OIDC_CALLBACK_PATH}`;
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

export async function handleOidcLogin(context: RequestContext, request: Request): Promise<Response> {
  const oidc = oidcConfigOf(context);
  const url = new URL(request.url);
  const redirectUri = redirectUriFor(oidc, context.config.mode, url);
  await enforceRateLimit(context, "LOGIN_IP_LIMIT", ipKey(context));
  const returnTo = safeReturnTo(url.searchParams.get("return_to"));
  if (returnTo === undefined) {
    throw new GatewayError("request_invalid", { detail: "return_to must be a path on this origin" });
  }
  const stepUp = stepUpRequestOf(url.searchParams);
  const now = context.now();
  const provider = await providerFor(oidc, now);
  const { url: location, transaction } = await authorizationRequest(provider, {
    redirectUri,
    returnTo,
    now,
    stepUp,
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
