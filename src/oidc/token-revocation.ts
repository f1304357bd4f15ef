/**
 * RFC 7009 revocation of the provider's refresh token when a user logs out here, so the
 * provider's grant ends even if the browser never follows the end-session URL. Best
 * effort: a provider without a revocation endpoint, or one that fails, changes nothing
 * about the logout (our session has already ended).
 */
import * as oauth from "oauth4webapi";
import type { Provider } from "./provider";

/** True when the provider confirmed the revocation. */
export async function revokeRefreshTokenAtProvider(provider: Provider, refreshToken: string): Promise<boolean> {
  const { server, client, clientAuth, http } = provider;
  if (server.revocation_endpoint === undefined) return false;
  try {
    const response = await oauth.revocationRequest(server, client, clientAuth, refreshToken, {
      ...http,
      additionalParameters: { token_type_hint: "refresh_token" },
    });
    await oauth.processRevocationResponse(response);
    return true;
  } catch {
    return false;
  }
}
