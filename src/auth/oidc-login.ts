/**
 * GET /auth/oidc/login?return_to=/path — start a login at the OpenID Connect provider:
 * a 302 to its authorization endpoint (code, PKCE S256, state, nonce), the transaction
 * sealed in its own short-lived cookie.
 */
import type { GatewayMode, OidcConfig } from "../config/config";
import { ConfigError } from "../config/env-readers";
import { GatewayError } from "../errors/gateway-error";
import type { RequestContext } from "../gateway/request-context";
import { enforceRateLimit, ipKey } from "../http/rate-limit";
import { authorizationRequest } from "../oidc/authorization-request";
import { OIDC_CALLBACK_PATH } from "../oidc/endpoints";
import { providerFor } from "../oidc/provider";
import { safeReturnTo } from "../oidc/return-to";
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

export async function handleOidcLogin(context: RequestContext, request: Request): Promise<Response> {
  const oidc = oidcConfigOf(context);
  const url = new URL(request.url);
  const redirectUri = redirectUriFor(oidc, context.config.mode, url);
  await enforceRateLimit(context, "LOGIN_IP_LIMIT", ipKey(context));
  const returnTo = safeReturnTo(url.searchParams.get("return_to"));
  if (returnTo === undefined) {
    throw new GatewayError("request_invalid", { detail: "return_to must be a path on this origin" });
  }
  const now = context.now();
  const provider = await providerFor(oidc, now);
  const { url: location, transaction } = await authorizationRequest(provider, {
    redirectUri,
    returnTo,
    now,
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
