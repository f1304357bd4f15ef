/**
 * What a refused rotation (session-object.ts `rotate`) means for the request and the
 * session: a provider that could not be asked is a 503 and the session is kept; reuse of a
 * replaced refresh token, or a bound session's token without its DPoP key, is theft: logged
 * as a security event and counted, and every access token of the session is refused from
 * then on; an ended provider grant ends the session too. Each is answered with the
 * refusal the client sees.
 */
import { GatewayError } from "../errors/gateway-error";
import { log } from "../log/logger";
import type { Metrics } from "../metrics/metrics";
import type { RotateResult } from "./session-record";

export interface RefusalContext {
  readonly sid: string;
  readonly requestId: string;
  /** The refresh came from a browser navigation (which cannot bring a DPoP proof). */
  readonly navigation: boolean | undefined;
  readonly metrics: Metrics;
  /** Refuse every access token of the session from now on. */
  readonly revokeSessionTokens: (reason: string) => Promise<void>;
}

export async function refusedRotation(
  result: Extract<RotateResult, { ok: false }>,
  { sid, requestId, navigation, metrics, revokeSessionTokens }: RefusalContext,
): Promise<never> {
  const sub = result.session?.sub;
  switch (result.reason) {
    case "idp_unavailable":
      throw new GatewayError("idp_unavailable", { detail: "IdP refresh failed; session kept", retryAfter: 5 });
    case "reused":
    case "key_mismatch": {
      const event = result.reason === "reused" ? "refresh_token_reuse" : "dpop_key_mismatch";
      log.security(event, { requestId, sid, sub });
      metrics.record("reuse_detected", result.reason === "reused" ? undefined : event);
      await revokeSessionTokens(event);
      break;
    }
    case "key_required":
      // Nothing ended: a navigation cannot prove a key, and DPOP_SESSIONS = "required" asks for one.
      if (navigation)
        throw new GatewayError("grant_invalid", { detail: "a DPoP-bound session, and no proof (a navigation)" });
      throw new GatewayError("dpop_grant_proof_invalid", { detail: "DPOP_SESSIONS is required and no proof came" });
    case "idp_ended":
      log.security("idp_grant_ended", { requestId, sid, sub });
      await revokeSessionTokens("idp_grant_ended");
      break;
  }
  throw new GatewayError("grant_invalid", { detail: `refresh token ${result.reason}`, clearSession: true });
}
