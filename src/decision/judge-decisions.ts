/**
 * The last step of authorization on a route whose rule asks an external decision
 * (docs/policy.md): every decision of every rule that decided the request must allow. Each
 * is taken from the cache when the service said it may be remembered, else asked, all at
 * once, so the wait is one timeout at most however many rules ask.
 *
 * A denial is `access_denied` (403): the service looked and said no. No decision (a
 * timeout, a failed call, an answer that is not one) fails closed as
 * `decision_unavailable` (503, Retry-After), an outage of a dependency like the session
 * store's, never a pass. The log's detail names the rule and the service, and why.
 */
import { GatewayError } from "../errors/gateway-error";
import type { ExternalDecision } from "../policy/external-decision";
import { askDecision, type DecisionService, type Verdict } from "./ask-decision";
import type { DecisionCache } from "./decision-cache";
import { type DecisionFacts, decisionRequestBody } from "./decision-request";

/** Seconds a client is told to wait after a decision service failed to answer. */
export const DECISION_RETRY_AFTER_SECONDS = 5;

export interface JudgeDecisionsOptions {
  /** The service binding of that name, or undefined when there is none (the config check makes that rare). */
  readonly serviceOf: (name: string) => DecisionService | undefined;
  readonly cache: DecisionCache;
  readonly now: () => number;
}

function ruleOf(decision: ExternalDecision): string {
  return `rule ${decision.rule} (${decision.rulePath}), service ${decision.service}`;
}

async function verdictFor(
  decision: ExternalDecision,
  facts: DecisionFacts,
  options: JudgeDecisionsOptions,
): Promise<Verdict> {
  const key = { sub: facts.sub, sid: facts.sid, method: facts.method, path: facts.path };
  const remembered = options.cache.get(decision, key, options.now());
  if (remembered !== undefined) return { kind: remembered ? "allow" : "deny", cacheSeconds: 0 };
  const service = options.serviceOf(decision.service);
  if (service === undefined) return { kind: "failed", reason: "the service is not bound" };
  const verdict = await askDecision(service, decision, decisionRequestBody(decision, facts));
  if (verdict.kind !== "failed") {
    options.cache.set(decision, key, verdict.kind === "allow", verdict.cacheSeconds, options.now());
  }
  return verdict;
}

/** Resolves when every decision allows; rejects with the GatewayError of the refusal otherwise. */
export async function judgeDecisions(
  decisions: readonly ExternalDecision[],
  facts: DecisionFacts,
  options: JudgeDecisionsOptions,
): Promise<void> {
  const verdicts = await Promise.all(decisions.map((decision) => verdictFor(decision, facts, options)));
  // A denial is the answer even when another service failed: it would not have passed either way.
  const denied = verdicts.findIndex((verdict) => verdict.kind === "deny");
  if (denied !== -1) {
    throw new GatewayError("access_denied", {
      detail: `decision denied: ${ruleOf(decisions[denied] as ExternalDecision)}`,
    });
  }
  const failedAt = verdicts.findIndex((verdict) => verdict.kind === "failed");
  if (failedAt !== -1) {
    const verdict = verdicts[failedAt] as Extract<Verdict, { kind: "failed" }>;
    throw new GatewayError("decision_unavailable", {
      detail: `decision failed: ${ruleOf(decisions[failedAt] as ExternalDecision)}: ${verdict.reason}`,
      retryAfter: DECISION_RETRY_AFTER_SECONDS,
    });
  }
}
