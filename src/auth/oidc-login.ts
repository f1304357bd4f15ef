/**
 * GET /auth/oidc/login?return_to=/path — start a login at the OpenID Connect provider:
 * a 302 to its authorization endpoint (code, PKCE S256, state, nonce), the transaction
 * sealed in its own short-lived cookie.
 */
import type { OidcConfig } from "../config/config";
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

export function redirectUriFor(oidc: OidcConfig, requestUrl: URL): string {
  return oidc.redirectUri ?? `${requestUrl.origin}${OIDC_CALLBACK_PATH}`;
}

export async function handleOidcLogin(context: RequestContext, request: Request): Promise<Response> {
  const oidc = oidcConfigOf(context);
  await enforceRateLimit(context, "LOGIN_IP_LIMIT", ipKey(context));
  const url = new URL(request.url);
  const returnTo = safeReturnTo(url.searchParams.get("return_to"));
  if (returnTo === undefined) {
    throw new GatewayError("request_invalid", { detail: "return_to must be a path on this origin" });
  }
  const now = context.now();
  const provider = await providerFor(oidc, now);
  const { url: location, transaction } = await authorizationRequest(provider, {
    redirectUri: redirectUriFor(oidc, url),
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
