/**
 * Step 6's last part, for routes whose rule asks an external decision (docs/policy.md):
 * after the token, scopes, roles and conditions all passed, so a request the cheap checks
 * refuse never costs a subrequest. The facts come from the verified token and from what
 * the platform set (CF-Connecting-IP, `request.cf`); the service bindings from the env,
 * which the config check (config/bindings.ts) made sure has them. The asking is
 * src/decision/'s.
 */
import { DecisionCache } from "../decision/decision-cache";
import type { DecisionFacts } from "../decision/decision-request";
import { judgeDecisions } from "../decision/judge-decisions";
import type { RequestCf } from "../policy/route-condition";
import type { ProtectedDecision } from "../policy/route-policy";
import type { AccessTokenClaims } from "../tokens/access-token-claims";
import type { RequestContext } from "./request-context";

/** The answers services asked to be remembered, for every request of this isolate. */
const remembered = new DecisionCache();

/** Resolves when every decision the route asks allows; rejects with the refusal otherwise. */
export function assertDecisions(
  context: RequestContext,
  request: Request,
  route: ProtectedDecision,
  claims: AccessTokenClaims,
): Promise<void> {
  const cf = request.cf as RequestCf | undefined;
  const facts: DecisionFacts = {
    sub: claims.sub,
    sid: claims.sid,
    scopes: claims.scopes,
    roles: claims.roles,
    claims: claims.payload,
    method: context.method,
    path: context.path,
    clientIp: context.clientIp,
    country: typeof cf?.country === "string" ? cf.country : undefined,
    asn: typeof cf?.asn === "number" ? cf.asn : undefined,
    requestId: context.requestId,
  };
  const bound = context.env as unknown as Record<string, unknown>;
  return judgeDecisions(route.decisions ?? [], facts, {
    serviceOf: (name) => {
      const service = bound[name] as { fetch?: unknown } | undefined;
      return typeof service?.fetch === "function" ? (service as Fetcher) : undefined;
    },
    cache: remembered,
    now: context.now,
  });
}
