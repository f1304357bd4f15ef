/**
 * The client's view of "where am I signed in": the gateway's GET /auth/sessions,
 * DELETE /auth/sessions/{id} and POST /auth/sessions/revoke-others, sent through the
 * client's own `fetch` (so the access token is added and refreshed as for any call).
 *
 * The gateway hands the list out a page at a time (`limit`, `cursor` → `next_cursor`).
 * `fetchSessions` follows the cursors, so callers that want the whole list keep getting
 * it; `fetchSessionPage` is one page, for a UI that shows them as they come. A gateway
 * from before pages answers the whole list without `next_cursor`: one page.
 */
import { PortcullisClientError } from "./errors";

/** One of the user's sessions, as the gateway lists it. */
export interface SessionInfo {
  readonly id: string;
  /** ISO 8601 times. */
  readonly createdAt: string;
  readonly lastUsedAt: string;
  readonly expiresAt: string;
  readonly loginMethod: "password" | "oidc";
  /** For a provider's session ("oidc"): which login provider, e.g. "github" (LOGIN_PROVIDERS' id). */
  readonly loginProvider?: string;
  /** Coarse: "Firefox on Linux". */
  readonly device: string;
  /** ISO 3166 alpha-2, when the platform knows it. */
  readonly country?: string;
  /** The session this client is using. */
  readonly current: boolean;
}

/** One page of the list, and the cursor of the next one (absent on the last page). */
export interface SessionPage {
  readonly sessions: SessionInfo[];
  readonly nextCursor?: string;
}

export interface SessionPageOptions {
  /** Sessions per page: 1–100; the gateway's default is 50. */
  readonly limit?: number;
  /** `nextCursor` of the previous page; none for the first. */
  readonly cursor?: string;
}

type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

export const SESSIONS_PATH = "/auth/sessions";
/** The page size `fetchSessions` asks for: the largest the gateway hands out. */
const FOLLOW_PAGE_SIZE = 100;
/** More pages than this is a gateway answering in circles, not a list (the cap is 1,000 sessions a user). */
const MAX_PAGES = 1_000;

async function expectStatus(response: Response, expected: number, what: string): Promise<Response> {
  if (response.status === expected) return response;
  await response.body?.cancel();
  const code = response.status === 404 ? "session_not_found" : "request_failed";
  throw new PortcullisClientError(code, `${what} answered ${response.status}`, { status: response.status });
}

function toSessionInfo(raw: Record<string, unknown>): SessionInfo {
  return {
    id: String(raw.id),
    createdAt: String(raw.created_at),
    lastUsedAt: String(raw.last_used_at),
    expiresAt: String(raw.expires_at),
    loginMethod: raw.login_method === "oidc" ? "oidc" : "password",
    device: String(raw.device),
    ...(typeof raw.login_provider === "string" ? { loginProvider: raw.login_provider } : {}),
    ...(typeof raw.country === "string" ? { country: raw.country } : {}),
    current: raw.current === true,
  };
}

export async function fetchSessionPage(fetch: Fetch, options: SessionPageOptions = {}): Promise<SessionPage> {
  const query = new URLSearchParams();
  if (options.limit !== undefined) query.set("limit", String(options.limit));
  if (options.cursor !== undefined) query.set("cursor", options.cursor);
  const path = query.toString() === "" ? SESSIONS_PATH : `${SESSIONS_PATH}?${query}`;
  const response = await expectStatus(await fetch(path), 200, "GET /auth/sessions");
  const body = (await response.json()) as { sessions?: Record<string, unknown>[]; next_cursor?: unknown };
  const sessions = (body.sessions ?? []).map(toSessionInfo);
  return typeof body.next_cursor === "string" ? { sessions, nextCursor: body.next_cursor } : { sessions };
}

/** Every page, in order: the whole list, newest first. */
export async function fetchSessions(fetch: Fetch): Promise<SessionInfo[]> {
  const all: SessionInfo[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < MAX_PAGES; pages++) {
    const page = await fetchSessionPage(fetch, {
      limit: FOLLOW_PAGE_SIZE,
      ...(cursor !== undefined ? { cursor } : {}),
    });
    all.push(...page.sessions);
    if (page.nextCursor === undefined) return all;
    cursor = page.nextCursor;
  }
  throw new PortcullisClientError("request_failed", `GET /auth/sessions handed out more than ${MAX_PAGES} pages`);
}

export async function deleteSession(fetch: Fetch, id: string): Promise<void> {
  const path = `${SESSIONS_PATH}/${encodeURIComponent(id)}`;
  await expectStatus(await fetch(path, { method: "DELETE" }), 204, "DELETE /auth/sessions/{id}");
}

export async function revokeOtherSessions(fetch: Fetch): Promise<number> {
  const response = await expectStatus(
    await fetch(`${SESSIONS_PATH}/revoke-others`, { method: "POST" }),
    200,
    "POST /auth/sessions/revoke-others",
  );
  const body = (await response.json()) as { ended?: unknown };
  return typeof body.ended === "number" ? body.ended : 0;
}
