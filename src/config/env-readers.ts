/**
 * Small readers for the Worker's env, shared by the config parsers. Each names the
 * setting in its error and never echoes a secret's value.
 */
import { GatewayError } from "../errors/gateway-error";
import type { GatewayMode } from "./config";
import { type ConfigEnv, SETTING_NAMES } from "./env";

/** A setting is missing or wrong. `setting` names it; the message never holds a secret. */
export class ConfigError extends GatewayError {
  readonly setting: string;
  constructor(setting: string, problem: string) {
    super("misconfigured", { detail: `${setting}: ${problem}` });
    this.name = "ConfigError";
    this.setting = setting;
  }
}

const MIN_SECRET_LENGTH = 32;

export function text(env: ConfigEnv, name: keyof ConfigEnv): string | undefined {
  const value = env[name];
  if (value === undefined || value === null) return undefined;
  // A TOML number or boolean (ACCESS_COOKIE = true), or one given in code, means its text.
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (typeof value !== "string") throw new ConfigError(String(name), "must be a string");
  const trimmed = value.trim();
  return trimmed === "" ? undefined : trimmed;
}

export function integer(env: ConfigEnv, name: keyof ConfigEnv, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = typeof raw === "number" ? raw : Number(String(raw).trim());
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(String(name), `must be a whole number from ${min} to ${max}`);
  }
  return value;
}

export function json(env: ConfigEnv, name: keyof ConfigEnv): unknown {
  const raw = env[name];
  if (raw === undefined || raw === "") return undefined;
  if (typeof raw !== "string") return raw;
  try {
    return JSON.parse(raw);
  } catch {
    throw new ConfigError(String(name), "is not valid JSON");
  }
}

export function secret(
  env: ConfigEnv,
  name: keyof ConfigEnv,
  forbiddenDevValue?: string,
  mode?: GatewayMode,
): string | undefined {
  const value = text(env, name);
  if (value === undefined) return undefined;
  if (value.length < MIN_SECRET_LENGTH) {
    throw new ConfigError(String(name), `must be at least ${MIN_SECRET_LENGTH} characters`);
  }
  if (mode === "production" && forbiddenDevValue !== undefined && value === forbiddenDevValue) {
    throw new ConfigError(String(name), "is the development-only value; set a real secret before deploying");
  }
  return value;
}

export function absoluteUrl(name: string, value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(name, "must be an absolute http(s) URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new ConfigError(name, "must be an absolute http(s) URL");
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new ConfigError(name, "must not contain credentials, a query or a fragment");
  }
  return url;
}

export function parseBoolean(env: ConfigEnv, name: keyof ConfigEnv, fallback: boolean): boolean {
  const value = text(env, name);
  if (value === undefined) return fallback;
  if (value === "true") return true;
  if (value === "false") return false;
  throw new ConfigError(String(name), 'must be "true" or "false"');
}

/**
 * The value of the Worker secret a setting names by key (`client_secret_env = "OKTA_SECRET"`):
 * set, at least 32 characters, and not one of the gateway's own settings. `key` is how the
 * refusal names the naming key; `refuse` adds the setting and entry. Never echoes the value.
 */
export function namedSecretValue(
  env: ConfigEnv,
  name: string,
  key: string,
  refuse: (problem: string) => ConfigError,
): string {
  if ((SETTING_NAMES as readonly string[]).includes(name)) {
    throw refuse(`"${key}" names ${name}, a setting of the gateway's own; use a secret of its own`);
  }
  const value = secret(env, name as keyof ConfigEnv);
  if (value === undefined) throw refuse(`"${key}" names ${name}, which is not set (wrangler secret put ${name})`);
  return value;
}
