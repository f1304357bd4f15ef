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
import { log } from "../log/logger";

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
  /**
   * `false` runs login and refresh without rate limits. By default the four rate-limiting
   * bindings (LOGIN_IP_LIMIT, LOGIN_ACCOUNT_LIMIT, REFRESH_IP_LIMIT, REFRESH_SESSION_LIMIT,
   * docs/hono.md) are required in production, and missing ones are a warning in development.
   * The same as the setting RATE_LIMITS.
   */
  readonly rateLimits?: false;
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
  const check = options?.checkCredentials;
  if (check !== undefined && typeof check !== "function") {
    throw new ConfigError("checkCredentials", "must be a function");
  }
  const rateLimits = options?.rateLimits;
  if (rateLimits !== undefined && rateLimits !== false) {
    throw new ConfigError("rateLimits", "can only be false (rate limits are on by default)");
  }
  const settings = checkCodeSettings(
    rateLimits === false ? { ...(options?.settings ?? {}), RATE_LIMITS: false } : options?.settings,
  );
  // Whether a check in code exists is known per call; the login endpoint itself says 503
  // (not configured) when it has neither that nor the upstream's secret.
  const parseOptions = { credentialCheckInCode: true };
  const configs = configsFor(settings);
  return Object.freeze({
    contextFor(c: Context): MadeContext {
      const env = (c.env ?? {}) as Env;
      const config = embeddedConfigFor(settings, env, configs, parseOptions);
      assertServable(config, c.req.url);
      const credentialCheck: CredentialCheck | undefined =
        check === undefined ? undefined : async (credentials) => check(credentials, c);
      return requestContext(env, c.req.raw, { config, credentialCheck, execution: executionOf(c) });
    },
  });
}

/**
 * One config per isolate for equal settings: `mountAuthEndpoints(app, options)` and
 * `portcullis(options)` given the same settings read the same config, and so the same keys
 * and stores. Settings that differ between calls are allowed (two audiences, say), but
 * almost always a mistake: the first difference is named in a warning at startup.
 */
const configsBySettings = new Map<string, WeakMap<object, GatewayConfig | ConfigError>>();
let firstSettings: PortcullisSettings | undefined;

function configsFor(settings: PortcullisSettings): WeakMap<object, GatewayConfig | ConfigError> {
  const key = JSON.stringify(Object.entries(settings).sort(([a], [b]) => (a < b ? -1 : 1)));
  let configs = configsBySettings.get(key);
  if (configs === undefined) {
    configs = new WeakMap();
    configsBySettings.set(key, configs);
    if (firstSettings === undefined) firstSettings = settings;
    else warnIfDifferent(firstSettings, settings);
  }
  return configs;
}

function warnIfDifferent(first: PortcullisSettings, next: PortcullisSettings): void {
  const names = new Set([...Object.keys(first), ...Object.keys(next)] as (keyof PortcullisSettings)[]);
  const differ = [...names].filter((name) => JSON.stringify(first[name]) !== JSON.stringify(next[name]));
  if (differ.length === 0) return;
  log.warn("settings_differ", {
    detail: `portcullis() and mountAuthEndpoints() were given different settings: ${differ.join(", ")}; pass them one shared options object`,
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
