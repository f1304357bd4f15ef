/**
 * The development setup (PORTCULLIS_ENV="development": dev keys, demo secrets) serves
 * localhost only, so a Worker deployed with it by mistake refuses to work.
 */
import type { GatewayConfig } from "./config";
import { ConfigError } from "./parse-config";

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

export function assertServable(config: GatewayConfig, requestUrl: string): void {
  if (config.mode === "development" && !LOOPBACK_HOSTS.has(new URL(requestUrl).hostname)) {
    throw new ConfigError("PORTCULLIS_ENV", '"development" serves only localhost; deploy with --env production');
  }
}
