/**
 * What the client makes of the answers of the gateway's login and logout endpoints: the
 * token of a login, or the error that says why there is none; the provider's end-session
 * URL of a logout.
 */
import { type HeldToken, readTokenResponse } from "./access-token";
import { PortcullisClientError } from "./errors";

/**
 * The token a `POST /auth/login` answer hands out. Throws `PortcullisClientError` with code
 * `credentials_invalid`, `rate_limited` or `login_failed`.
 */
export async function loginToken(response: Response, now: number): Promise<HeldToken> {
  if (response.status === 401) {
    await response.body?.cancel();
    throw new PortcullisClientError("credentials_invalid", "wrong username or password", { status: 401 });
  }
  if (response.status === 429) {
    await response.body?.cancel();
    const retryAfter = Number(response.headers.get("retry-after"));
    throw new PortcullisClientError("rate_limited", "too many login attempts", {
      status: 429,
      ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterSeconds: retryAfter } : {}),
    });
  }
  const token = response.ok ? await readTokenResponse(response, now) : undefined;
  if (token === undefined) {
    await response.body?.cancel().catch(() => undefined);
    throw new PortcullisClientError("login_failed", `login answered ${response.status}`, { status: response.status });
  }
  return token;
}

/** The provider's end-session URL a `POST /auth/logout` answer names (an OIDC session), if any. */
export async function endSessionUrlOf(response: Response): Promise<{ endSessionUrl?: string }> {
  if (response.status !== 200 || !response.headers.get("content-type")?.startsWith("application/json")) {
    await response.body?.cancel();
    return {};
  }
  try {
    const body = (await response.json()) as { end_session_url?: unknown };
    return typeof body.end_session_url === "string" ? { endSessionUrl: body.end_session_url } : {};
  } catch {
    return {};
  }
}
