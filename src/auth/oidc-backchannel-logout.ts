/**
 * POST /auth/oidc/backchannel-logout (the OIDC_* settings' provider) and
 * /auth/login/<provider>/backchannel-logout — OpenID Connect Back-Channel Logout 1.0. The
 * provider posts a signed logout token, checked with that provider's keys and issuer only; every Portcullis session of that provider session
 * (`sid`), or of that subject, ends: its refresh token is refused by the session object at
 * once, its access tokens through a `sid` revocation in the ledger (docs/storage.md: the revocation bound).
 * 200 when done; 400 (invalid_request) for a bad, replayed or unknown token; no-store.
 */
import type { OidcConfig } from "../config/config";
import { GatewayError } from "../errors/gateway-error";
import type { RequestContext } from "../gateway/request-context";
import { readFields } from "../http/read-body";
import { log } from "../log/logger";
import { LOGOUT_TOKEN_MAX_AGE_SECONDS, validateLogoutToken } from "../oidc/logout-token";
import { providerFor } from "../oidc/provider";
import { oidcSettingsProvider, providerOfPath } from "./login-provider-of";

const MAX_LOGOUT_TOKEN = 8 * 1024;

export function handleBackchannelLogout(context: RequestContext, request: Request): Promise<Response> {
  return backchannelLogout(context, request, oidcSettingsProvider(context));
}

export function handleProviderBackchannelLogout(context: RequestContext, request: Request): Promise<Response> {
  const provider = providerOfPath(context, "backchannel");
  if (provider.kind !== "oidc") throw new GatewayError("not_found", { detail: "GitHub has no back-channel logout" });
  return backchannelLogout(context, request, provider);
}

async function backchannelLogout(context: RequestContext, request: Request, oidc: OidcConfig): Promise<Response> {
  const fields = await readFields(request, ["form"]);
  const token = fields.logout_token;
  if (!token || token.length > MAX_LOGOUT_TOKEN) {
    throw new GatewayError("logout_token_invalid", { detail: "logout_token is required" });
  }
  const now = context.now();
  const provider = await providerFor(oidc, now);
  const logout = await validateLogoutToken(provider, token, now);
  const until = now + (LOGOUT_TOKEN_MAX_AGE_SECONDS + 60) * 1000;
  if (!(await context.sessions.claimOnce("jti", oidc.issuer, logout.jti, until))) {
    log.security("logout_token_replayed", { requestId: context.requestId });
    throw new GatewayError("logout_token_invalid", { detail: "jti already used" });
  }
  const match = logout.sid !== undefined ? { idpSid: logout.sid } : { sub: logout.sub as string };
  const ended = await context.sessions.endByIdp(oidc.issuer, match, "backchannel_logout");
  log.security("backchannel_logout", {
    requestId: context.requestId,
    provider: oidc.id,
    sessions: ended,
    by: logout.sid ? "sid" : "sub",
  });
  if (ended === 0) throw new GatewayError("logout_token_invalid", { detail: "no session for this logout token" });
  return new Response(null, { status: 200, headers: { "cache-control": "no-store" } });
}
