/**
 * The `sid` revocation that makes every access token of an ended session refused. Apart
 * from Sessions because both it and the IdP side (idp-operations.ts) end sessions this way.
 */
import type { GatewayConfig } from "../config/config";
import type { Metrics } from "../metrics/metrics";
import type { Revocations } from "../revocation/revocation-store";

export interface RevokeSessionTokensDeps {
  readonly config: GatewayConfig;
  readonly revocations: Revocations;
  readonly metrics: Metrics;
}

/**
 * Refuse every access token of the session (or sessions, in one record) from now on: a
 * `sid` revocation. The entry lives as long as any of those tokens can: the access-token
 * lifetime plus tolerance.
 */
export async function revokeSessionTokens(
  deps: RevokeSessionTokensDeps,
  sids: string | readonly string[],
  reason: string,
): Promise<void> {
  const { config, revocations, metrics } = deps;
  metrics.record("revocation", "session", reason);
  const all = typeof sids === "string" ? [sids] : sids;
  await revocations.revokeSessions(all, config.accessTokenTtl + config.clockToleranceSeconds, reason);
}
