/**
 * The options of `portcullis(...)` and `mountAuthEndpoints(...)`, checked once when they
 * are called (at your Worker's startup), so a mistake is a clear error naming the option,
 * not a failure on some later request.
 */
import type { Context, Env as HonoEnv } from "hono";
import type { GatewayConfig } from "../config/config";
import { assertServable } from "../config/development-guard";
import { checkCodeSettings, embeddedConfigFor } from "../config/embedded-config";
import type { PortcullisSettings } from "../config/env";
import { ConfigError } from "../config/parse-config";
import type { CredentialCheck, Credentials, SubjectAnswer } from "../gateway/credential-check-contract";
import type { Env } from "../gateway/env";
import type { MadeContext } from "../gateway/envelope";
import { requestContext } from "../gateway/request-context";

export interface PortcullisOptions<E extends HonoEnv = HonoEnv> {
  /**
   * Settings by the names of docs/configuration.md (`TOKEN_ISSUER`, `ACCESS_TOKEN_TTL`,
   * `JWKS_URL`, …). They win over the Worker's vars of the same name; anything not given
   * here is read from the env. Secrets (`SIGNING_KEYS`, `ACCESS_SECRET`, …) are refused
   * here: put them in Worker secrets.
   */
  readonly settings?: PortcullisSettings;
  /**
   * Your credential check, for `POST /auth/login`: the subject with its scopes and roles,
   * or `undefined` for an unknown user or a wrong password. Without it, login asks the
   * upstream's credential check (UPSTREAM_URL + CREDENTIAL_CHECK_PATH), as the standalone
   * gateway does.
   *
   * @example
   * checkCredentials: async ({ username, password }, c) =>
   *   (await c.env.USERS.verify(username, password)) ? { sub: username, scope: "read" } : undefined
   */
  readonly checkCredentials?: (
    credentials: Credentials,
    c: Context<E>,
  ) => Promise<SubjectAnswer | undefined> | SubjectAnswer | undefined;
}

/** Options after the startup check: what the middleware and the endpoints run on. */
export interface ResolvedOptions {
  contextFor(c: Context): MadeContext;
}

// biome-ignore lint/suspicious/noExplicitAny: options of an app with any Env
export function resolveOptions(options: PortcullisOptions<any> | undefined): ResolvedOptions {
  if (options !== undefined && (typeof options !== "object" || options === null)) {
    throw new ConfigError("options", "must be an object");
  }
  const settings = checkCodeSettings(options?.settings);
  const check = options?.checkCredentials;
  if (check !== undefined && typeof check !== "function") {
    throw new ConfigError("checkCredentials", "must be a function");
  }
  const configs = new WeakMap<object, GatewayConfig | ConfigError>();
  return Object.freeze({
    contextFor(c: Context): MadeContext {
      const env = (c.env ?? {}) as Env;
      const config = embeddedConfigFor(settings, env, configs);
      assertServable(config, c.req.url);
      const credentialCheck: CredentialCheck | undefined =
        check === undefined ? undefined : async (credentials) => check(credentials, c);
      return requestContext(env, c.req.raw, { config, credentialCheck, execution: executionOf(c) });
    },
  });
}

/** The platform's ExecutionContext (waitUntil), when the runtime gave one (not under app.request in tests). */
function executionOf(c: Context): Pick<ExecutionContext, "waitUntil"> | undefined {
  try {
    return c.executionCtx;
  } catch {
    return undefined;
  }
}
