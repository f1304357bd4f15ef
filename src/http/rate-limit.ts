/**
 * Rate limits on the endpoints attackers hammer, through the Workers rate-limiting
 * bindings declared in wrangler.toml (limits and periods are configured there).
 *
 *   LOGIN_IP_LIMIT         login attempts per client IP
 *   LOGIN_ACCOUNT_LIMIT    login attempts per account name
 *   REFRESH_IP_LIMIT       refreshes (explicit and transparent) per client IP
 *   REFRESH_SESSION_LIMIT  explicit refreshes per session
 *
 * Transparent refreshes are not counted per session: N parallel requests of one session
 * all ask to refresh, but only one rotation happens (the rest are answered from the
 * session object's grace window), and counting them would refuse a busy page.
 *
 * Over the limit: 429 with Retry-After, before anything else happens. A limiter that
 * fails open is logged: rate limits protect capacity; they do not decide access.
 */
import type { RateLimitBinding } from "../config/env";
import { GatewayError } from "../errors/gateway-error";
import { log } from "../log/logger";
import type { Metrics } from "../metrics/metrics";

/** The period of the limits in wrangler.toml (the binding does not report it). */
export const RATE_LIMIT_PERIOD_SECONDS = 60;

export type LimitName = "LOGIN_IP_LIMIT" | "LOGIN_ACCOUNT_LIMIT" | "REFRESH_IP_LIMIT" | "REFRESH_SESSION_LIMIT";

/** What a limit needs of the request (the gateway's request context has it all). */
export interface LimitedRequest {
  readonly env: { readonly [Name in LimitName]?: RateLimitBinding };
  readonly requestId: string;
  readonly clientIp: string | undefined;
  readonly metrics: Metrics;
}

export async function enforceRateLimit(context: LimitedRequest, name: LimitName, key: string): Promise<void> {
  const binding: RateLimitBinding | undefined = context.env[name];
  if (binding === undefined) return;
  let success: boolean;
  try {
    ({ success } = await binding.limit({ key }));
  } catch (error) {
    log.warn("rate_limiter_unavailable", {
      requestId: context.requestId,
      limit: name,
      reason: (error as Error)?.message,
    });
    return;
  }
  if (!success) {
    log.security("rate_limited", { requestId: context.requestId, limit: name, ip: context.clientIp });
    context.metrics.record("rate_limited", name);
    throw new GatewayError("rate_limited", { detail: name, retryAfter: RATE_LIMIT_PERIOD_SECONDS });
  }
}

/** The key a per-IP limit counts under. */
export function ipKey(context: Pick<LimitedRequest, "clientIp">): string {
  return `ip:${context.clientIp ?? "unknown"}`;
}
