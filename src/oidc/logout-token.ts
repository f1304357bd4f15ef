/**
 * OpenID Connect Back-Channel Logout 1.0 §2.6: validating a logout token with jose.
 * Signature against the provider's JWKS, iss, aud, iat (and not too old), jti, the
 * back-channel-logout `events` member, `sid` and/or `sub`, and no `nonce`.
 * Replay of a `jti` is the caller's to refuse (it needs strongly consistent storage).
 */
import { GatewayError } from "../errors/gateway-error";
import { isProviderOutage } from "./code-exchange";
import { verifyProviderJwt } from "./id-token";
import type { Provider } from "./provider";

const LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout";
/** A logout token older than this is refused even if its `exp` is later. */
export const LOGOUT_TOKEN_MAX_AGE_SECONDS = 300;

export interface LogoutToken {
  readonly jti: string;
  readonly sid: string | undefined;
  readonly sub: string | undefined;
}

function refused(detail: string, cause?: unknown): GatewayError {
  return new GatewayError("logout_token_invalid", { detail, cause });
}

function shortString(value: unknown): value is string {
  return typeof value === "string" && value.length > 0 && value.length <= 256;
}

export async function validateLogoutToken(provider: Provider, token: string, now: number): Promise<LogoutToken> {
  let claims: Record<string, unknown>;
  try {
    claims = await verifyProviderJwt(provider, token, {
      now,
      requiredClaims: ["iat", "jti"],
      maxTokenAge: LOGOUT_TOKEN_MAX_AGE_SECONDS,
    });
  } catch (error) {
    if (isProviderOutage(error))
      throw new GatewayError("idp_unavailable", { detail: "JWKS unavailable", cause: error });
    throw refused("signature or claims refused", error);
  }
  const events = claims.events;
  if (typeof events !== "object" || events === null || Array.isArray(events)) throw refused("no events claim");
  const event = (events as Record<string, unknown>)[LOGOUT_EVENT];
  if (typeof event !== "object" || event === null || Array.isArray(event)) throw refused("not a logout event");
  if ("nonce" in claims) throw refused("a logout token must not carry a nonce");
  if (!shortString(claims.jti)) throw refused("bad jti");
  const sid = claims.sid;
  const sub = claims.sub;
  if (sid !== undefined && !shortString(sid)) throw refused("bad sid");
  if (sub !== undefined && !shortString(sub)) throw refused("bad sub");
  if (sid === undefined && sub === undefined) throw refused("neither sid nor sub");
  return { jti: claims.jti, sid, sub };
}
