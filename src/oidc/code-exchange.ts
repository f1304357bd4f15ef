/**
 * The callback's work with oauth4webapi: check the authorization response (state, and
 * the `iss` parameter against a mix-up), exchange the code with the PKCE verifier, check
 * the ID token's claims (iss, aud, azp, exp, iat, nonce), and — which oauth4webapi leaves
 * out by design — its signature against the provider's JWKS.
 *
 * A refusal throws GatewayError `login_failed` (a 400 that starts nothing); a provider
 * that cannot be reached throws `idp_unavailable` (503, Retry-After); an answer that means
 * our settings are wrong (invalid_client, unauthorized_client, a refused redirect URI)
 * throws a ConfigError naming the setting (idp-errors.ts). The reason goes to the log only.
 */
import * as oauth from "oauth4webapi";
import { GatewayError } from "../errors/gateway-error";
import type { LoginTransaction } from "./authorization-request";
import { verifyProviderJwt } from "./id-token";
import { configurationMistake, namedForProvider, oauthErrorOf, providerDown } from "./idp-errors";
import { accessExpiry, type IdpTokens } from "./idp-tokens";
import type { Provider } from "./provider";

export interface CompletedLogin {
  readonly tokens: IdpTokens;
  /** The ID token's claims, checked. */
  readonly claims: Readonly<Record<string, unknown>>;
}

function refused(detail: string, cause?: unknown): GatewayError {
  return new GatewayError("login_failed", { detail, cause });
}

/** True when the error is the network or the provider failing, not the response being wrong. */
export function isProviderOutage(error: unknown): boolean {
  if (error instanceof TypeError) return true; // fetch (the standard, Node): connection refused, DNS, reset
  // workerd rejects a fetch whose connection failed with a plain Error it marks `retryable`
  // (measured: a refused connection is `Error: Network connection lost.`, retryable true).
  if (error instanceof Error && typeof (error as { retryable?: unknown }).retryable === "boolean") return true;
  if (error instanceof DOMException && (error.name === "TimeoutError" || error.name === "AbortError")) return true;
  if (error instanceof GatewayError && (error.code === "idp_unavailable" || error.code === "keys_unavailable")) {
    return true;
  }
  if (error instanceof oauth.ResponseBodyError) return error.status >= 500;
  if (error instanceof oauth.OperationProcessingError && error.code === oauth.RESPONSE_IS_NOT_CONFORM) {
    const response = (error.cause as Response | undefined) ?? undefined;
    return response instanceof Response && response.status >= 500;
  }
  return false;
}

/** The token request that redeems the callback's code, with the transaction's PKCE verifier. */
export function codeGrantRequest(
  provider: Provider,
  parameters: URLSearchParams,
  transaction: LoginTransaction,
): Promise<Response> {
  const { server, client, clientAuth, http } = provider;
  return oauth.authorizationCodeGrantRequest(
    server,
    client,
    clientAuth,
    parameters,
    transaction.redirectUri,
    transaction.verifier,
    http,
  );
}

export async function completeLogin(
  provider: Provider,
  callbackUrl: URL,
  transaction: LoginTransaction,
  now: number,
): Promise<CompletedLogin> {
  const { server, client } = provider;
  let parameters: URLSearchParams;
  try {
    // Checks `state`, and `iss` when the provider sends it (RFC 9207, mix-up defence).
    parameters = oauth.validateAuthResponse(server, client, callbackUrl, transaction.state);
  } catch (error) {
    const said = await oauthErrorOf(error);
    if (said !== undefined)
      throw (
        namedForProvider(provider.config, configurationMistake(said.error, said.description)) ??
        refused(`provider said ${said.error}`, error)
      );
    throw refused("bad callback", error);
  }

  let result: oauth.TokenEndpointResponse;
  try {
    const response = await codeGrantRequest(provider, parameters, transaction);
    result = await oauth.processAuthorizationCodeResponse(server, client, response, {
      expectedNonce: transaction.nonce,
      requireIdToken: true,
      // A step-up asked for a recent sign-in: oauth4webapi then requires `auth_time` and checks it.
      ...(transaction.maxAge !== undefined ? { maxAge: transaction.maxAge } : {}),
    });
  } catch (error) {
    if (isProviderOutage(error)) throw providerDown("token endpoint failed", error);
    const said = await oauthErrorOf(error);
    const mistake =
      said === undefined
        ? undefined
        : namedForProvider(provider.config, configurationMistake(said.error, said.description));
    if (mistake !== undefined) throw mistake;
    throw refused(`code exchange refused (${said?.error ?? (error as { code?: string })?.code ?? "invalid"})`, error);
  }

  const claims = oauth.getValidatedIdTokenClaims(result);
  const idToken = result.id_token;
  if (claims === undefined || idToken === undefined) throw refused("no ID token");
  try {
    await verifyProviderJwt(provider, idToken, { now, requiredClaims: ["iat", "exp", "sub"] });
  } catch (error) {
    if (isProviderOutage(error)) throw providerDown("JWKS unavailable", error);
    throw refused("ID token signature or claims refused", error);
  }
  // A step-up asked for these sign-in levels; a provider may answer with another (OIDC Core
  // §3.1.2.1: acr_values is voluntary), which would only send the browser round again.
  if (transaction.acrValues !== undefined && !transaction.acrValues.includes(claims.acr as string)) {
    throw refused(`the provider signed in at acr ${String(claims.acr ?? "none")}, not one of those asked for`);
  }
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (claims.azp !== undefined ? claims.azp !== client.client_id : audiences.length > 1) {
    throw refused("ID token azp does not name this client");
  }
  const sid = typeof claims.sid === "string" && claims.sid.length <= 256 ? claims.sid : undefined;
  return {
    claims: claims as unknown as Record<string, unknown>,
    tokens: {
      accessToken: result.access_token,
      accessExpiresAt: accessExpiry(result.expires_in, now),
      refreshToken: result.refresh_token,
      idToken,
      provider: provider.config.id,
      sub: claims.sub,
      sid,
    },
  };
}
