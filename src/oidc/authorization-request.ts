/**
 * The start of a login: a fresh PKCE verifier (S256), `state` and `nonce`, and the
 * provider's authorization URL that carries them. The caller keeps the transaction
 * (sealed in a cookie) until the callback.
 */
import * as oauth from "oauth4webapi";
import type { Provider } from "./provider";

/** What the callback needs to finish this login; sealed, never readable by the browser. */
export interface LoginTransaction {
  /** The login provider's id: the callback refuses a transaction of another (absent: "oidc"). */
  readonly provider?: string;
  readonly state: string;
  readonly nonce: string;
  readonly verifier: string;
  readonly returnTo: string;
  readonly redirectUri: string;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  /** Step-up: the `max_age` asked of the provider; the ID token's `auth_time` must meet it. */
  readonly maxAge?: number;
  /** Step-up: the `acr_values` asked of the provider; the ID token's `acr` must be one of them. */
  readonly acrValues?: readonly string[];
}

/** What a step-up asks of the provider (a route's `max_auth_age`, `acr`, `amr`; docs/policy.md). */
export interface StepUpRequest {
  readonly maxAge?: number | undefined;
  readonly acrValues?: readonly string[] | undefined;
}

export async function authorizationRequest(
  provider: Provider,
  options: {
    redirectUri: string;
    returnTo: string;
    now: number;
    stepUp?: StepUpRequest | undefined;
    /** Who is expected to sign in (the chooser's email): OIDC's login_hint, GitHub's `login`. */
    loginHint?: string | undefined;
  },
): Promise<{ url: URL; transaction: LoginTransaction }> {
  const { maxAge, acrValues } = options.stepUp ?? {};
  const verifier = oauth.generateRandomCodeVerifier();
  const { config } = provider;
  const github = config.kind === "github";
  const transaction: LoginTransaction = {
    provider: config.id,
    state: oauth.generateRandomState(),
    nonce: oauth.generateRandomNonce(),
    verifier,
    returnTo: options.returnTo,
    redirectUri: options.redirectUri,
    createdAt: options.now,
    ...(maxAge !== undefined ? { maxAge } : {}),
    ...(acrValues !== undefined ? { acrValues } : {}),
  };
  const url = new URL(provider.server.authorization_endpoint as string);
  const params: Record<string, string> = {
    // Provider-specific extras first (prompt, access_type, audience…); the protocol's own
    // parameters below always win (the config refuses them anyway).
    ...config.authorizationParams,
    client_id: config.clientId,
    response_type: "code",
    redirect_uri: options.redirectUri,
    scope: config.scopes.join(" "),
    state: transaction.state,
    // GitHub has no ID token to carry a nonce; PKCE and state bind its callback.
    ...(github ? {} : { nonce: transaction.nonce }),
    ...(options.loginHint !== undefined ? { [github ? "login" : "login_hint"]: options.loginHint } : {}),
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    // A step-up's own asks win over OIDC_AUTHORIZATION_PARAMS': the route needs them.
    ...(maxAge !== undefined ? { max_age: String(maxAge) } : {}),
    ...(acrValues !== undefined ? { acr_values: acrValues.join(" ") } : {}),
  };
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  return { url, transaction };
}
