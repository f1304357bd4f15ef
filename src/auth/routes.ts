/**
 * The gateway's own endpoints, in one table that both the standalone Worker (app.ts) and
 * `mountAuthEndpoints` (portcullis/hono) mount, so the two serve the same contract.
 */
import type { RequestContext } from "../gateway/request-context";
import { handleLogin } from "./login";
import { handleLogout } from "./logout";
import { handleBackchannelLogout } from "./oidc-backchannel-logout";
import { handleOidcCallback } from "./oidc-callback";
import { handleOidcLogin } from "./oidc-login";
import { handleRevokeSession, handleRevokeSubject } from "./operator";
import { handleRefresh } from "./refresh";
import { handleRevoke } from "./revoke-token";

export type AuthHandler = (context: RequestContext, request: Request) => Promise<Response>;

/** POST endpoints; any other method on these paths is answered 405. */
export const AUTH_ROUTES: ReadonlyArray<readonly [string, AuthHandler]> = [
  ["/auth/login", handleLogin],
  ["/auth/refresh", handleRefresh],
  ["/auth/logout", handleLogout],
  ["/auth/revoke", handleRevoke],
  ["/auth/operator/revoke-subject", handleRevokeSubject],
  ["/auth/operator/revoke-session", handleRevokeSession],
  ["/auth/oidc/backchannel-logout", handleBackchannelLogout],
];

/** Endpoints a browser navigates to (GET; login through an OpenID Connect provider). */
export const NAVIGATION_ROUTES: ReadonlyArray<readonly [string, AuthHandler]> = [
  ["/auth/oidc/login", handleOidcLogin],
  ["/auth/oidc/callback", handleOidcCallback],
];

/**
 * A revocation this request made is recorded, but could not be published to the edge
 * (KV's daily write limit, or KV down): say so to the caller who revoked, as the log does.
 */
export function noteDegradedPublishing(context: RequestContext, response: Response): Response {
  const publishing = context.revocations.publishing;
  if (publishing === "kv_writes" || publishing === "kv_unavailable") {
    response.headers.set("portcullis-degraded", publishing === "kv_writes" ? "kv-writes-exhausted" : "kv-unavailable");
  }
  return response;
}

export const JWKS_PATH = "/.well-known/jwks.json";

/** GET /.well-known/jwks.json: the public keys access tokens are signed with. */
export function handleJwks(context: RequestContext): Response {
  return new Response(JSON.stringify(context.keys.publicJwks), {
    headers: { "content-type": "application/json", "cache-control": "public, max-age=300" },
  });
}
