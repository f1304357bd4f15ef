/**
 * Settings for Portcullis inside your own Worker (portcullis/hono): the Worker's vars and
 * secrets, by the names of docs/configuration.md, with settings given in code on top.
 * No upstream is required. Settings given in code are checked when the app starts;
 * the rest when the first request brings the env.
 */
import { nearestName } from "../schema/known-keys";
import type { GatewayConfig } from "./config";
import { type ConfigEnv, type PortcullisSettings, SECRET_NAMES, SETTING_NAMES, type SettingName } from "./env";
import { ConfigError, checkedConfig, parseConfig, rememberedConfig } from "./parse-config";

const SECRETS: ReadonlySet<SettingName> = new Set(SECRET_NAMES);

// Stand-ins for what only the env can give, so the startup check judges only code's settings.
const STAND_INS: PortcullisSettings = {
  TOKEN_ISSUER: "https://portcullis.invalid",
  TOKEN_AUDIENCE: "portcullis",
  ACCESS_SECRET: "a stand-in used only to check the other settings",
};

/** Checks settings given in code at startup; throws ConfigError naming the setting. */
export function checkCodeSettings(settings: unknown): PortcullisSettings {
  if (settings === undefined) return Object.freeze({});
  if (typeof settings !== "object" || settings === null || Array.isArray(settings)) {
    throw new ConfigError("settings", "must be an object of settings by name (docs/configuration.md)");
  }
  const known: ReadonlySet<string> = new Set(SETTING_NAMES);
  for (const name of Object.keys(settings)) {
    if (!known.has(name)) {
      const near = nearestName(name, SETTING_NAMES);
      const hint = near === undefined ? "" : `; did you mean ${near}?`;
      throw new ConfigError(name, `is not a Portcullis setting (docs/configuration.md)${hint}`);
    }
    if (SECRETS.has(name as SettingName)) {
      throw new ConfigError(name, "is a secret: set it with `wrangler secret put` (or .dev.vars), not in code");
    }
  }
  const given = Object.freeze({ ...(settings as PortcullisSettings) });
  try {
    parseConfig({ ...STAND_INS, ...given } as ConfigEnv, { requireUpstream: false });
  } catch (error) {
    if (error instanceof ConfigError && error.setting in given) throw error;
    if (!(error instanceof ConfigError)) throw error;
  }
  return given;
}

/** The config for one env object and one set of code settings, parsed once, its bindings checked. */
export function embeddedConfigFor(
  settings: PortcullisSettings,
  env: ConfigEnv,
  cache: WeakMap<object, GatewayConfig | ConfigError>,
  options: { readonly credentialCheckInCode: boolean } = { credentialCheckInCode: false },
): GatewayConfig {
  return rememberedConfig(cache, env, () => {
    const merged = { ...env, ...settings };
    return checkedConfig(merged, parseConfig(merged, { requireUpstream: false, ...options }));
  });
}
