/**
 * The client's view of "where am I signed in": the gateway's GET /auth/sessions,
 * DELETE /auth/sessions/{id} and POST /auth/sessions/revoke-others, sent through the
 * client's own `fetch` (so the access token is added and refreshed as for any call).
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
  /** Coarse: "Firefox on Linux". */
  readonly device: string;
  /** ISO 3166 alpha-2, when the platform knows it. */
  readonly country?: string;
  /** The session this client is using. */
  readonly current: boolean;
}

type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

export const SESSIONS_PATH = "/auth/sessions";

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
    ...(typeof raw.country === "string" ? { country: raw.country } : {}),
    current: raw.current === true,
  };
}

export async function fetchSessions(fetch: Fetch): Promise<SessionInfo[]> {
  const response = await expectStatus(await fetch(SESSIONS_PATH), 200, "GET /auth/sessions");
  const body = (await response.json()) as { sessions?: Record<string, unknown>[] };
  return (body.sessions ?? []).map(toSessionInfo);
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
