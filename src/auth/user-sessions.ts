/**
 * A user's own sessions, authenticated by the user's access token (Bearer or the access
 * cookie; an expired token is refused, refresh first):
 *
 *   GET    /auth/sessions                 the user's live sessions, a page at a time
 *                                         (?limit=, ?cursor=), the current one marked
 *   DELETE /auth/sessions/{sid}           end one of them; any other sid answers 404
 *   POST   /auth/sessions/revoke-others   end every session but the current one
 *
 * The list comes from the subject's index (SUBJECT_SESSIONS), which is strongly
 * consistent: a session ended here is gone from the list at the next read, anywhere.
 * "Revoke others" answers at once however many sessions there are: one `sub` revocation
 * refuses their tokens, and the index ends their objects in the background.
 */
import { GatewayError } from "../errors/gateway-error";
import { authenticate } from "../gateway/authenticate";
import type { RequestContext } from "../gateway/request-context";
import { appendClearedCookies } from "../http/token-response";
import { log } from "../log/logger";
import { isSessionId } from "../sessions/refresh-token";
import type { SessionEntry } from "../sessions/subject-session-entry";
import { nextCursorOf, readPageRequest } from "./session-paging";

export const SESSIONS_PATH = "/auth/sessions";

interface Caller {
  readonly sub: string;
  readonly sid: string;
}

/**
 * The caller's subject and session, from a valid, unrevoked access token of a session:
 * steps 2–5 of the gateway (authenticate.ts), except that an expired token is refused
 * rather than refreshed, since these answers hand no new token back.
 */
async function authenticateUser(context: RequestContext, request: Request): Promise<Caller> {
  const { claims } = await authenticate(context, request, { refresh: false });
  if (claims.sid === undefined) throw new GatewayError("token_invalid", { detail: "token has no session" });
  return { sub: claims.sub, sid: claims.sid };
}

/** A session as the user (or operator) sees it; never a token or an address. */
export function describeSession(entry: SessionEntry, currentSid?: string): Record<string, unknown> {
  return {
    id: entry.sid,
    created_at: new Date(entry.createdAt).toISOString(),
    last_used_at: new Date(entry.lastUsedAt).toISOString(),
    expires_at: new Date(Math.min(entry.expiresAt, entry.lastUsedAt + entry.idleTimeoutMs)).toISOString(),
    login_method: entry.method,
    ...(entry.method === "oidc" ? { login_provider: entry.provider ?? "oidc" } : {}),
    device: entry.device,
    ...(entry.country !== undefined ? { country: entry.country } : {}),
    ...(currentSid !== undefined ? { current: entry.sid === currentSid } : {}),
  };
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}

export async function handleListSessions(context: RequestContext, request: Request): Promise<Response> {
  const caller = await authenticateUser(context, request);
  const { limit, after } = readPageRequest(new URL(request.url));
  const page = await context.sessions.index.page(caller.sub, limit, after);
  return json({
    sessions: page.entries.map((entry) => describeSession(entry, caller.sid)),
    next_cursor: nextCursorOf(page),
  });
}

export async function handleEndSession(context: RequestContext, request: Request): Promise<Response> {
  const caller = await authenticateUser(context, request);
  // Session ids are base64url: anything encoded is not one (and is never decoded, so never throws).
  const sid = new URL(request.url).pathname.slice(SESSIONS_PATH.length + 1);
  // Only a session in the caller's own index: another user's session is "not found".
  const own = isSessionId(sid) && (await context.sessions.index.holds(caller.sub, sid));
  if (!own) throw new GatewayError("session_not_found");
  await context.sessions.endById(sid, "user");
  log.security("session_ended_by_user", { requestId: context.requestId, sid, sub: caller.sub });
  const headers = new Headers({ "cache-control": "no-store" });
  if (sid === caller.sid) appendClearedCookies(headers, context.config);
  return new Response(null, { status: 204, headers });
}

export async function handleRevokeOtherSessions(context: RequestContext, request: Request): Promise<Response> {
  const caller = await authenticateUser(context, request);
  const reason = "user_revoked_others";
  const ended = await context.sessions.index.endAll(caller.sub, { keep: caller.sid, reason });
  context.metrics.record("revocation", "subject", reason);
  log.security("other_sessions_ended", { requestId: context.requestId, sub: caller.sub, sessions: ended });
  return json({ ended });
}
