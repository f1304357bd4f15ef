/**
 * The start of a login: a fresh PKCE verifier (S256), `state` and `nonce`, and the
 * provider's authorization URL that carries them. The caller keeps the transaction
 * (sealed in a cookie) until the callback.
 */
import * as oauth from "oauth4webapi";
import type { Provider } from "./provider";

/** What the callback needs to finish this login; sealed, never readable by the browser. */
export interface LoginTransaction {
  readonly state: string;
  readonly nonce: string;
  readonly verifier: string;
  readonly returnTo: string;
  readonly redirectUri: string;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
}

export async function authorizationRequest(
  provider: Provider,
  options: { redirectUri: string; returnTo: string; now: number },
): Promise<{ url: URL; transaction: LoginTransaction }> {
  const verifier = oauth.generateRandomCodeVerifier();
  const transaction: LoginTransaction = {
    state: oauth.generateRandomState(),
    nonce: oauth.generateRandomNonce(),
    verifier,
    returnTo: options.returnTo,
    redirectUri: options.redirectUri,
    createdAt: options.now,
  };
  const url = new URL(provider.server.authorization_endpoint as string);
  const { config } = provider;
  const params: Record<string, string> = {
    // Provider-specific extras first (prompt, access_type, audience…); the protocol's own
    // parameters below always win (the config refuses them anyway).
    ...config.authorizationParams,
    client_id: config.clientId,
    response_type: "code",
    redirect_uri: options.redirectUri,
    scope: config.scopes.join(" "),
    state: transaction.state,
    nonce: transaction.nonce,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
  };
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  return { url, transaction };
}
