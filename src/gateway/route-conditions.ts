/**
 * Step 6 of the pipeline for routes that `require` a condition (docs/policy.md): the
 * conditions of every rule that decided the request, judged on the verified token's
 * payload, the platform's client address and `request.cf`. The answer says no more than
 * its code (`insufficient_scope` or `access_denied`); the log's `request_refused` detail
 * names the condition that failed. Then the route's step-up (`max_auth_age`, `acr`, `amr`):
 * last, since signing in again cannot mend anything refused before it.
 */
import { GatewayError } from "../errors/gateway-error";
import { stepUpRefusal } from "../policy/authentication-requirement";
import { failedCondition } from "../policy/check-condition";
import type { RequestCf } from "../policy/route-condition";
import type { ProtectedDecision } from "../policy/route-policy";
import type { AccessTokenClaims } from "../tokens/access-token-claims";
import type { RequestContext } from "./request-context";

/** Throws the refusal when one of the route's conditions does not hold. */
export function assertConditions(
  context: RequestContext,
  request: Request,
  route: ProtectedDecision,
  claims: AccessTokenClaims,
): void {
  const { conditions } = route;
  if (conditions === undefined) return;
  // `request.cf` is read only when a condition asks for it (country, asn, client_certificate):
  // a call into the runtime, which builds the object then.
  let cf: RequestCf | undefined | null = null;
  const facts = {
    claims: claims.payload,
    clientIp: context.clientIp,
    get cf(): RequestCf | undefined {
      if (cf === null) cf = request.cf as RequestCf | undefined;
      return cf;
    },
  };
  const failed = failedCondition(conditions, facts);
  if (failed === undefined) return;
  throw new GatewayError(failed.code, {
    detail: `condition failed: ${failed.condition.text}`,
    ...(failed.code === "insufficient_scope" ? { requiredScopes: route.scopes } : {}),
  });
}

/**
 * Throws RFC 9470's `insufficient_user_authentication` when the sign-in behind the token is
 * older or weaker than the route asks; a browser navigation is sent through the OIDC login
 * with `max_age` / `acr_values` instead (login-redirect.ts).
 */
export function assertAuthentication(
  context: RequestContext,
  route: ProtectedDecision,
  claims: AccessTokenClaims,
): void {
  const { authentication } = route;
  if (authentication === undefined) return;
  const refusal = stepUpRefusal(
    authentication,
    claims.payload,
    context.now() / 1000,
    context.config.clockToleranceSeconds,
  );
  if (refusal !== undefined) throw refusal;
}
