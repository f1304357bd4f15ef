/**
 * Step 0 of every request the standalone gateway serves: it has one canonical form, or it
 * is refused (400 `invalid_request`, the reason named in the problem's `detail`) before
 * anything is decided, recorded or forwarded. The form itself is made once, with the
 * request's context (request-context.ts, canonical/).
 */
import { PATH_REFUSALS } from "../canonical/canonical-path";
import { conflictingOverride } from "../canonical/method-override";
import { GatewayError } from "../errors/gateway-error";
import type { RequestContext } from "./request-context";

export function assertCanonicalRequest(context: RequestContext): void {
  const { canonical } = context;
  if (!canonical.ok) {
    throw new GatewayError("request_invalid", {
      detail: `path refused (${canonical.refusal})`,
      publicDetail: PATH_REFUSALS[canonical.refusal],
    });
  }
  const override = conflictingOverride(context.method, context.incoming.methodOverrides, context.url.search);
  if (override !== undefined) {
    throw new GatewayError("request_invalid", {
      detail: `method override to ${override.slice(0, 16)} on a ${context.method}`,
      publicDetail: "The request names another method than its own (method override).",
    });
  }
}
