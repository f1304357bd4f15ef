/**
 * The config unit tests' base: a production configuration that verifies with a shared
 * secret, and the parse of it with a TRUSTED_ISSUERS list on top.
 *
 *   parseWithIssuers([GITHUB]).trustedIssuers
 *   issuerRefusal([{ ...GITHUB, id: "self" }])   // the ConfigError's detail
 */
import type { ConfigEnv } from "../../src/config/env";
import { ConfigError, parseConfig } from "../../src/config/parse-config";

export const PRODUCTION_BASE = {
  PORTCULLIS_ENV: "production",
  UPSTREAM_URL: "https://api.example.com/v1/",
  TOKEN_ISSUER: "https://auth.example.com",
  TOKEN_AUDIENCE: "example-api",
  ACCESS_SECRET: "a-shared-secret-that-is-long-enough-0123",
} as unknown as ConfigEnv;

/** The configuration with these TRUSTED_ISSUERS (as JSON) and `env` on top of the base. */
export function parseWithIssuers(issuers: unknown, env: Record<string, unknown> = {}) {
  return parseConfig({ ...PRODUCTION_BASE, TRUSTED_ISSUERS: JSON.stringify(issuers), ...env } as ConfigEnv);
}

/** Why the configuration is refused (the ConfigError's detail); throws when it is accepted. */
export function issuerRefusal(issuers: unknown, env: Record<string, unknown> = {}): string {
  try {
    parseWithIssuers(issuers, env);
  } catch (error) {
    if (error instanceof ConfigError) return error.detail ?? "";
    throw error;
  }
  throw new Error("accepted");
}
