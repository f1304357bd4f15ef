/**
 * Telling a provider that is down from a provider that is configured wrongly, which to a
 * user look the same (the login does not work) but need different people: an outage is a
 * 503 with Retry-After and heals by itself; a mistake in the settings (a wrong issuer
 * path, an issuer that differs from the metadata's, a client secret the provider refuses,
 * a grant the client may not use) is a configuration error: answered as one (503 "Gateway
 * is not configured", no Retry-After), logged at error level as `config_invalid` naming
 * the setting, the URL and what the provider said.
 */
import * as oauth from "oauth4webapi";
import { ConfigError } from "../config/env-readers";
import { GatewayError } from "../errors/gateway-error";

/** Seconds a client should wait before trying a login again while the provider is down. */
export const IDP_RETRY_AFTER_SECONDS = 30;

export function providerDown(detail: string, cause?: unknown): GatewayError {
  return new GatewayError("idp_unavailable", { detail, cause, retryAfter: IDP_RETRY_AFTER_SECONDS });
}

/** OAuth errors that say our side is configured wrongly, with the setting to look at. */
const CONFIGURATION_ERRORS: Readonly<Record<string, { setting: string; hint: string }>> = {
  invalid_client: {
    setting: "OIDC_CLIENT_SECRET",
    hint: "the provider refused the client's authentication: check OIDC_CLIENT_ID and OIDC_CLIENT_SECRET (or OIDC_CLIENT_PRIVATE_KEY)",
  },
  unauthorized_client: {
    setting: "OIDC_CLIENT_ID",
    hint: "the provider does not let this client use the authorization code grant: allow it in the provider's client settings",
  },
  unsupported_grant_type: {
    setting: "OIDC_CLIENT_ID",
    hint: "the provider does not support the grant the gateway uses for this client",
  },
  unsupported_response_type: {
    setting: "OIDC_CLIENT_ID",
    hint: "the provider does not let this client use response_type=code",
  },
  invalid_scope: { setting: "OIDC_SCOPES", hint: "the provider refused the scopes asked for" },
};

/** The provider's words, short and printable: they go to the log. */
function said(error: string, description: string | undefined): string {
  const text = description === undefined ? error : `${error}: ${description}`;
  return text.replace(/[^\x20-\x7e]/g, "?").slice(0, 200);
}

/**
 * A ConfigError for an OAuth error the provider answered that means a mistake in our
 * settings, or undefined when the error is about this login (a denied consent, a code
 * that expired). A redirect URI the provider refuses is named as OIDC_REDIRECT_URI.
 */
export function configurationMistake(error: string, description: string | undefined): ConfigError | undefined {
  if (/redirect_?uri/i.test(description ?? "") && (error === "invalid_grant" || error === "invalid_request")) {
    return new ConfigError(
      "OIDC_REDIRECT_URI",
      `the provider refused the redirect URI: register this gateway's callback at the provider, or set OIDC_REDIRECT_URI to the one registered (the provider said ${said(error, description)})`,
    );
  }
  const known = CONFIGURATION_ERRORS[error];
  if (known === undefined) return undefined;
  return new ConfigError(known.setting, `${known.hint} (the provider said ${said(error, description)})`);
}

/** The OAuth error code and description an oauth4webapi error carries, reading a challenged answer's body. */
export async function oauthErrorOf(error: unknown): Promise<{ error: string; description?: string } | undefined> {
  if (error instanceof oauth.ResponseBodyError || error instanceof oauth.AuthorizationResponseError) {
    return { error: error.error, ...(error.error_description ? { description: error.error_description } : {}) };
  }
  if (error instanceof oauth.WWWAuthenticateChallengeError) {
    const fromChallenge = error.cause.find((challenge) => typeof challenge.parameters.error === "string");
    try {
      const body = (await error.response.clone().json()) as { error?: unknown; error_description?: unknown };
      if (typeof body.error === "string") {
        const description = typeof body.error_description === "string" ? body.error_description : undefined;
        return { error: body.error, ...(description ? { description } : {}) };
      }
    } catch {
      // No JSON body: the challenge's own error parameter, if any.
    }
    if (fromChallenge !== undefined) return { error: fromChallenge.parameters.error as string };
  }
  return undefined;
}

/** Why discovery at `url` did not give usable metadata: an outage, or the settings. */
export function discoveryFailure(url: string, expectedIssuer: string, error: unknown): GatewayError {
  if (error instanceof oauth.OperationProcessingError) {
    const cause = error.cause as { body?: { issuer?: unknown } } | Response | undefined;
    if (error.code === oauth.RESPONSE_IS_NOT_CONFORM && cause instanceof Response) {
      if (cause.status >= 500) return providerDown(`OIDC discovery at ${url} answered ${cause.status}`, error);
      return new ConfigError(
        "OIDC_ISSUER",
        `discovery at ${url} answered ${cause.status}: OIDC_ISSUER must be the provider's issuer identifier, whose /.well-known/openid-configuration the gateway reads`,
      );
    }
    if (error.code === oauth.JSON_ATTRIBUTE_COMPARISON && !(cause instanceof Response)) {
      const named = typeof cause?.body?.issuer === "string" ? cause.body.issuer.slice(0, 200) : "another issuer";
      return new ConfigError(
        "OIDC_ISSUER",
        `the provider's metadata at ${url} says its issuer is "${named}", not "${expectedIssuer}": set OIDC_ISSUER to exactly the issuer it names`,
      );
    }
    return new ConfigError("OIDC_ISSUER", `discovery at ${url} did not answer OpenID metadata (${error.message})`);
  }
  return providerDown(`OIDC discovery at ${url} failed (${(error as Error)?.message ?? "unknown"})`, error);
}

/**
 * The `error` of a token-endpoint answer that came with 200: GitHub answers a refused
 * request so (not RFC 6749's 400), e.g. `bad_verification_code`, `bad_refresh_token`.
 */
export async function okBodyError(response: Response): Promise<string | undefined> {
  if (response.status !== 200) return undefined;
  try {
    const body = (await response.clone().json()) as { error?: unknown };
    return typeof body?.error === "string" ? body.error.slice(0, 64) : undefined;
  } catch {
    return undefined;
  }
}

/** The OIDC_* settings' names, as a LOGIN_PROVIDERS entry calls the same things. */
const ENTRY_KEYS: Readonly<Record<string, string>> = {
  OIDC_ISSUER: '"issuer"',
  OIDC_CLIENT_ID: '"client_id"',
  OIDC_CLIENT_SECRET: '"client_secret_env"',
  OIDC_CLIENT_PRIVATE_KEY: '"client_private_key_env"',
  OIDC_SCOPES: '"scopes"',
  OIDC_REDIRECT_URI: '"redirect_uri"',
};

/**
 * A settings mistake found while talking to a LOGIN_PROVIDERS entry's provider, named as
 * that entry's keys (`LOGIN_PROVIDERS (partner): … check "client_id" and "client_secret_env"`)
 * rather than the OIDC_* settings, which may not even be set. Anything else passes through.
 */
export function namedForProvider<T>(provider: { id: string; fromOidcSettings: boolean }, error: T): T | ConfigError {
  if (provider.fromOidcSettings || !(error instanceof ConfigError)) return error;
  const problem = (error.detail ?? "").slice(error.setting.length + 2);
  const renamed = problem.replace(/\bOIDC_[A-Z_]+\b/g, (name) => ENTRY_KEYS[name] ?? name);
  return new ConfigError(
    `LOGIN_PROVIDERS (${provider.id})`,
    `${ENTRY_KEYS[error.setting] ?? error.setting}: ${renamed}`,
  );
}
