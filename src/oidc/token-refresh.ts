/**
 * Refreshing the provider's tokens with its refresh token (oauth4webapi). Called only from
 * inside a session's Durable Object, so one session never has two of these in flight:
 * a provider that rotates refresh tokens never sees a reused one from us.
 *
 * The outcome is tagged: `grant_invalid` (the provider ended the grant: the session must
 * end) or `unavailable` (the provider is down or misbehaving: keep the session, answer 503).
 */
import * as oauth from "oauth4webapi";
import type { OidcConfig } from "../config/config";
import { isProviderOutage } from "./code-exchange";
import { okBodyError } from "./idp-errors";
import { accessExpiry, type IdpTokens } from "./idp-tokens";
import { providerFor } from "./provider";

export type IdpRefreshResult =
  | { readonly ok: true; readonly tokens: IdpTokens }
  | { readonly ok: false; readonly reason: "grant_invalid" | "unavailable"; readonly detail: string };

export async function refreshIdpTokens(config: OidcConfig, tokens: IdpTokens, now: number): Promise<IdpRefreshResult> {
  if (tokens.refreshToken === undefined) {
    return { ok: false, reason: "grant_invalid", detail: "no IdP refresh token" };
  }
  try {
    const provider = await providerFor(config, now);
    const { server, client, clientAuth, http } = provider;
    const response = await oauth.refreshTokenGrantRequest(server, client, clientAuth, tokens.refreshToken, http);
    // GitHub's way of refusing (200 with an `error`); other providers answer RFC 6749's 400.
    const refusedWith200 = config.kind === "github" ? await okBodyError(response) : undefined;
    if (refusedWith200 !== undefined) {
      // bad_refresh_token: the grant is over, as invalid_grant says elsewhere.
      return { ok: false, reason: "grant_invalid", detail: `IdP answered ${refusedWith200}` };
    }
    const result = await oauth.processRefreshTokenResponse(server, client, response);
    const claims = oauth.getValidatedIdTokenClaims(result);
    if (claims !== undefined && claims.sub !== tokens.sub) {
      return { ok: false, reason: "grant_invalid", detail: "refreshed ID token names another subject" };
    }
    return {
      ok: true,
      tokens: {
        ...tokens,
        accessToken: result.access_token,
        accessExpiresAt: accessExpiry(result.expires_in, now),
        refreshToken: result.refresh_token ?? tokens.refreshToken,
        idToken: result.id_token ?? tokens.idToken,
      },
    };
  } catch (error) {
    if (error instanceof oauth.ResponseBodyError && error.error === "invalid_grant") {
      return { ok: false, reason: "grant_invalid", detail: "IdP answered invalid_grant" };
    }
    const detail = isProviderOutage(error) ? "IdP unreachable" : `IdP refresh failed (${(error as Error)?.name})`;
    return { ok: false, reason: "unavailable", detail };
  }
}
