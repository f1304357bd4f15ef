/**
 * Operator endpoints, authenticated with `Authorization: Bearer <OPERATOR_TOKEN>`:
 *
 *   POST /auth/operator/revoke-subject  {"sub": "..."}   log a user out everywhere
 *   POST /auth/operator/revoke-session  {"sid": "..."}   end one session
 *   GET  /auth/operator/sessions?sub=…                   a subject's live sessions, a page
 *                                                        at a time (&limit=, &cursor=)
 *
 * Revoking a subject answers at once however many sessions it has: one `sub` revocation
 * refuses every token of theirs from then on, and the subject's index (SUBJECT_SESSIONS)
 * takes the sessions out of the list and ends their objects in the background.
 *
 * Disabled (401) when OPERATOR_TOKEN is not set. OPERATOR_TOKEN_PREVIOUS, while set, is
 * accepted too (a rotation, docs/operations.md).
 */
import { GatewayError } from "../errors/gateway-error";
import type { RequestContext } from "../gateway/request-context";
import { readFields } from "../http/read-body";
import { secretsEqual } from "../http/timing-safe";
import { log } from "../log/logger";
import { isSessionId } from "../sessions/refresh-token";
import { bearerToken } from "../tokens/read-credentials";
import { nextCursorOf, readPageRequest } from "./session-paging";
import { describeSession } from "./user-sessions";

/**
 * OPERATOR_TOKEN, or during a rotation OPERATOR_TOKEN_PREVIOUS: both compared in constant
 * time, always both, so the answer's timing does not tell which one matched.
 */
export async function authenticateOperator(context: RequestContext): Promise<void> {
  const { operatorToken, operatorTokenPrevious } = context.config;
  let presented: string | undefined;
  try {
    presented = bearerToken(context.incoming.authorization);
  } catch {
    presented = undefined;
  }
  const [current, previous] =
    operatorToken === undefined || presented === undefined
      ? [false, false]
      : await Promise.all([
          secretsEqual(presented, operatorToken),
          secretsEqual(presented, operatorTokenPrevious ?? operatorToken),
        ]);
  if (!current && !previous) {
    log.security("operator_auth_failed", { requestId: context.requestId, ip: context.clientIp });
    throw new GatewayError("operator_unauthorized");
  }
  // The rotation's last step waits until the operator's automation stops sending it.
  if (!current) log.info("operator_token_previous_used", { requestId: context.requestId });
}

function json(body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status: 200,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}

export async function handleRevokeSubject(context: RequestContext, request: Request): Promise<Response> {
  await authenticateOperator(context);
  const { sub } = await readFields(request, ["json", "form"]);
  if (!sub || sub.length > 256) throw new GatewayError("request_invalid", { detail: '"sub" is required' });
  // Every session that began before now dies; how long the entry lives: subject-session-list.ts.
  const ended = await context.sessions.index.endAll(sub, { reason: "operator" });
  context.metrics.record("revocation", "subject", "operator");
  log.security("subject_revoked", { requestId: context.requestId, sub, sessions: ended });
  return json({ revoked: "subject", sub, sessions_ended: ended });
}

export async function handleRevokeSession(context: RequestContext, request: Request): Promise<Response> {
  await authenticateOperator(context);
  const { sid } = await readFields(request, ["json", "form"]);
  if (!sid || !isSessionId(sid)) throw new GatewayError("request_invalid", { detail: '"sid" is required' });
  await context.sessions.endById(sid, "operator");
  log.security("session_revoked", { requestId: context.requestId, sid });
  return json({ revoked: "session", sid });
}

export async function handleListSubjectSessions(context: RequestContext, request: Request): Promise<Response> {
  await authenticateOperator(context);
  const url = new URL(request.url);
  const sub = url.searchParams.get("sub");
  if (!sub || sub.length > 256) throw new GatewayError("request_invalid", { detail: '"sub" is required' });
  const { limit, after } = readPageRequest(url);
  const page = await context.sessions.index.page(sub, limit, after);
  return json({ sub, sessions: page.entries.map((entry) => describeSession(entry)), next_cursor: nextCursorOf(page) });
}
