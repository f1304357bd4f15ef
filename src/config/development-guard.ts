/**
 * The development setup (PORTCULLIS_ENV="development": dev keys, demo secrets) serves
 * localhost only, so a Worker deployed with it by mistake refuses to work.
 */
import type { GatewayConfig } from "./config";
import { ConfigError } from "./parse-config";

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

export function assertServable(config: GatewayConfig, requestUrl: string | URL): void {
  if (config.mode !== "development") return;
  const url = typeof requestUrl === "string" ? new URL(requestUrl) : requestUrl;
  if (!LOOPBACK_HOSTS.has(url.hostname)) {
    throw new ConfigError("PORTCULLIS_ENV", '"development" serves only localhost; deploy with --env production');
  }
}
