/**
 * The callback's work for GitHub, which speaks plain OAuth 2.0: no ID token, so no
 * signature, nonce or `iss` claim to check. What binds the callback to the login begun
 * here is the `state` (used once) and PKCE (S256; GitHub checks the verifier). The code is
 * exchanged with oauth4webapi; who signed in is then asked of GitHub's REST API with the
 * token just obtained (github-user.ts): the numeric id (never the login, which can be
 * renamed and taken by someone else), the primary email only when verified, and the
 * organisations and teams, which become `groups` (the provider's roles).
 *
 * `orgs` in the settings limits who may sign in at all: a user in none of them is refused
 * (400 login_failed, no session), as oauth2-proxy's --github-org does.
 */
import * as oauth from "oauth4webapi";
import { ConfigError } from "../config/env-readers";
import { GatewayError } from "../errors/gateway-error";
import type { LoginTransaction } from "../oidc/authorization-request";
import { type CompletedLogin, codeGrantRequest, isProviderOutage } from "../oidc/code-exchange";
import { oauthErrorOf, okBodyError, providerDown } from "../oidc/idp-errors";
import { accessExpiry } from "../oidc/idp-tokens";
import type { Provider } from "../oidc/provider";
import { fetchGitHubUser, type GitHubUser } from "./github-user";

/** GitHub's token-endpoint errors that mean our settings are wrong, not this login. */
const SETTINGS_MISTAKES: Readonly<Record<string, string>> = {
  incorrect_client_credentials:
    "GitHub refused the client credentials: check client_id and the secret client_secret_env names",
  redirect_uri_mismatch:
    "GitHub refused the redirect URI: register this gateway's callback as the OAuth app's callback URL, or set redirect_uri",
};

function refused(detail: string, cause?: unknown): GatewayError {
  return new GatewayError("login_failed", { detail, cause });
}

/** The claims a session takes from a GitHub user (the shape claim-mapping.ts reads). */
export function githubClaims(user: GitHubUser, teams: boolean): Record<string, unknown> {
  return {
    sub: String(user.id),
    preferred_username: user.login,
    ...(user.name !== undefined ? { name: user.name } : {}),
    ...(user.email !== undefined ? { email: user.email, email_verified: true } : {}),
    groups: [...user.orgs, ...(teams ? user.teams : [])],
    // GitHub never says when the user last proved who they are (it reuses its own session
    // silently), so a GitHub session counts as signed in long ago: it never meets a route's
    // max_auth_age, as it can never be asked for a fresh sign-in either (auth/oidc-login.ts).
    auth_time: 1,
  };
}

export async function completeGitHubLogin(
  provider: Provider,
  callbackUrl: URL,
  transaction: LoginTransaction,
  now: number,
): Promise<CompletedLogin> {
  const { server, client, http, config } = provider;
  const github = config.github;
  if (github === undefined)
    throw new GatewayError("misconfigured", { detail: "a GitHub provider without its settings" });
  let parameters: URLSearchParams;
  try {
    // Checks `state`; GitHub sends no `iss`, so a callback that carries one is another server's.
    parameters = oauth.validateAuthResponse(server, client, callbackUrl, transaction.state);
  } catch (error) {
    const said = await oauthErrorOf(error);
    throw refused(said !== undefined ? `GitHub said ${said.error}` : "bad callback", error);
  }

  let result: oauth.TokenEndpointResponse;
  try {
    const response = await codeGrantRequest(provider, parameters, transaction);
    const error = await okBodyError(response);
    const mistake = error === undefined ? undefined : SETTINGS_MISTAKES[error];
    if (mistake !== undefined) throw new ConfigError(`LOGIN_PROVIDERS (${config.id})`, mistake);
    if (error !== undefined) throw refused(`GitHub refused the code (${error})`);
    result = await oauth.processAuthorizationCodeResponse(server, client, response, { requireIdToken: false });
  } catch (error) {
    if (error instanceof GatewayError) throw error;
    if (isProviderOutage(error)) throw providerDown("GitHub's token endpoint failed", error);
    throw refused(`code exchange refused (${(error as { code?: string })?.code ?? "invalid"})`, error);
  }

  const user = await fetchGitHubUser({
    apiUrl: github.apiUrl,
    accessToken: result.access_token,
    teams: github.teams,
    signal: http.signal,
  });
  if (github.orgs !== "any" && !user.orgs.some((org) => (github.orgs as readonly string[]).includes(org))) {
    throw refused("the GitHub user is in none of the organisations allowed to sign in");
  }
  return {
    claims: githubClaims(user, github.teams),
    tokens: {
      accessToken: result.access_token,
      accessExpiresAt: accessExpiry(result.expires_in, now),
      refreshToken: result.refresh_token,
      idToken: undefined,
      provider: config.id,
      sub: String(user.id),
      sid: undefined,
    },
  };
}
