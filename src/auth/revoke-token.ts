/**
 * POST /auth/revoke — RFC 7009 token revocation.
 *
 * Form body `token` (+ optional `token_type_hint`). Refresh tokens end their session;
 * access tokens go on the KV revocation list until they expire. Unknown or invalid tokens
 * get 200 as well (§2.2), so the endpoint tells nobody which tokens exist. When
 * REVOKE_CLIENT_ID/REVOKE_CLIENT_SECRET are set, callers authenticate with HTTP Basic.
 */
import { GatewayError } from "../errors/gateway-error";
import { type RequestContext, verifyOptionsFor } from "../gateway/request-context";
import { readFields } from "../http/read-body";
import { secretsEqual } from "../http/timing-safe";
import { log } from "../log/logger";
import { sessionOfRefreshToken } from "../sessions/refresh-token";
import type { AccessTokenClaims } from "../tokens/access-token-claims";
import { verifyAccessToken } from "../tokens/verify-access-token";

const HINTS = new Set(["access_token", "refresh_token"]);

/** The claims of an access token whose signature verifies, expired or not; else undefined. */
export async function verifyForRevocation(
  context: RequestContext,
  token: string,
): Promise<AccessTokenClaims | undefined> {
  try {
    const result = await verifyAccessToken(token, context.keys, verifyOptionsFor(context));
    return result.claims;
  } catch (error) {
    if (
      error instanceof GatewayError &&
      (error.code === "keys_unavailable" || error.code === "introspection_unavailable")
    ) {
      throw error;
    }
    return undefined;
  }
}

export async function revokeAccessToken(
  context: RequestContext,
  claims: AccessTokenClaims,
  reason: string,
): Promise<void> {
  if (claims.jti === undefined) return;
  const remaining = claims.exp + context.config.clockToleranceSeconds - Math.floor(context.now() / 1000);
  if (remaining <= 0) return;
  await context.revocations.revokeToken(claims.jti, remaining, reason);
  context.metrics.record("revocation", "token", reason);
}

async function authenticateClient(context: RequestContext): Promise<void> {
  const client = context.config.revokeClient;
  if (client === undefined) return;
  const header = context.incoming.authorization ?? "";
  const match = /^Basic ([A-Za-z0-9+/]+=*)$/i.exec(header);
  let ok = false;
  if (match?.[1]) {
    let decoded = "";
    try {
      decoded = atob(match[1]);
    } catch {
      decoded = "";
    }
    const colon = decoded.indexOf(":");
    if (colon > 0) {
      const [idOk, secretOk] = await Promise.all([
        secretsEqual(decoded.slice(0, colon), client.id),
        secretsEqual(decoded.slice(colon + 1), client.secret),
      ]);
      ok = idOk && secretOk;
    }
  }
  if (!ok) throw new GatewayError("client_invalid");
}

export async function handleRevoke(context: RequestContext, request: Request): Promise<Response> {
  await authenticateClient(context);
  const fields = await readFields(request, ["form"]);
  const token = fields.token;
  if (!token) throw new GatewayError("request_invalid", { detail: 'the "token" parameter is required' });
  // The hint is optional and only a hint (§2.1): both kinds are recognised by shape.
  if (fields.token_type_hint !== undefined && !HINTS.has(fields.token_type_hint)) {
    log.info("revoke_unknown_hint", { requestId: context.requestId });
  }
  let revoked = false;
  if (sessionOfRefreshToken(token) !== undefined) {
    revoked = (await context.sessions.endByRefreshToken(token, "revoked")) !== undefined;
  } else {
    const claims = await verifyForRevocation(context, token);
    if (claims !== undefined) {
      await revokeAccessToken(context, claims, "revoked");
      revoked = true;
    }
  }
  log.security("token_revocation", { requestId: context.requestId, revoked });
  return new Response(null, { status: 200, headers: { "cache-control": "no-store" } });
}
