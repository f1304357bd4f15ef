/**
 * A stand-in for the gateway's client contract, as a `fetch` function: login, refresh
 * (with a session that lives in a shared "cookie jar"), logout, and protected `/api/*`
 * routes that answer 401 `invalid_token` for expired or unknown tokens, or refresh them
 * transparently when asked to. Time is the (fake) `Date.now()`.
 */

export const GATEWAY = "https://app.example";

export interface SeenCall {
  readonly method: string;
  readonly path: string;
  readonly authorization: string | null;
  readonly body: string;
}

interface IssuedToken {
  readonly sid: string;
  readonly expiresAt: number;
}

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

export class FakeGateway {
  ttlSeconds = 60;
  /** Refresh an expired token on /api/* (backend-managed) instead of answering 401. */
  transparentRefresh = false;
  /** Answer 401 invalid_token to every token on /api/*. */
  refuseAllTokens = false;
  /** Replace the next refresh answers (status, or "network" for a rejected fetch, or "hang"). */
  readonly refreshFailures: Array<number | "network" | "hang"> = [];
  /** While set, refresh answers wait for it. */
  refreshGate: Promise<void> | undefined;
  /** Answer logout as for an OIDC session: 200 with this end-session URL. */
  endSessionUrl: string | undefined;
  /** The session whose refresh cookie the browser holds (undefined: no cookie). */
  cookieSession: string | undefined;
  readonly calls: SeenCall[] = [];
  readonly #tokens = new Map<string, IssuedToken>();
  readonly #liveSessions = new Set<string>();
  #serial = 0;

  readonly fetch = async (input: Request | string | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    const body = await request.text();
    this.calls.push({
      method: request.method,
      path: url.pathname,
      authorization: request.headers.get("authorization"),
      body,
    });
    if (url.origin !== GATEWAY) return new Response("elsewhere", { status: 200 });
    if (url.pathname === "/auth/login") return this.#login(body);
    // The caller's own signal: a Request's derived one may stop following it once the Request is collected.
    if (url.pathname === "/auth/refresh") return this.#refresh(init?.signal ?? undefined);
    if (url.pathname === "/auth/logout") return this.#logout();
    return this.#api(request, body);
  };

  /** Mint a token of a session, `ageSeconds` old. */
  mint(sid: string, ageSeconds = 0): string {
    this.#serial += 1;
    const iat = Math.floor(Date.now() / 1000) - ageSeconds + this.#serial / 1000;
    const token = `${base64url({ alg: "EdDSA" })}.${base64url({ sid, iat, exp: iat + this.ttlSeconds, n: this.#serial })}.sig`;
    this.#tokens.set(token, { sid, expiresAt: (iat + this.ttlSeconds) * 1000 });
    return token;
  }

  startSession(): string {
    const sid = `sid-${this.#liveSessions.size + 1}`;
    this.#liveSessions.add(sid);
    this.cookieSession = sid;
    return sid;
  }

  revoke(sid: string): void {
    this.#liveSessions.delete(sid);
  }

  callsTo(path: string): SeenCall[] {
    return this.calls.filter((call) => call.path === path);
  }

  #tokenResponse(sid: string): Response {
    return Response.json({ access_token: this.mint(sid), token_type: "Bearer", expires_in: this.ttlSeconds });
  }

  #login(body: string): Response {
    const { username, password } = JSON.parse(body) as { username: string; password: string };
    if (username !== "alice" || password !== "wonderland") {
      return Response.json({ title: "Invalid credentials" }, { status: 401 });
    }
    return this.#tokenResponse(this.startSession());
  }

  async #refresh(signal: AbortSignal | undefined): Promise<Response> {
    const failure = this.refreshFailures.shift();
    if (failure === "hang") {
      return new Promise((_, reject) => signal?.addEventListener("abort", () => reject(signal.reason)));
    }
    if (failure === "network") throw new TypeError("fetch failed");
    if (this.refreshGate) await this.refreshGate;
    if (typeof failure === "number") return new Response(null, { status: failure });
    const sid = this.cookieSession;
    if (sid === undefined || !this.#liveSessions.has(sid)) {
      this.cookieSession = undefined;
      return Response.json({ error: "invalid_grant" }, { status: 401 });
    }
    return this.#tokenResponse(sid);
  }

  #logout(): Response {
    if (this.cookieSession) this.revoke(this.cookieSession);
    this.cookieSession = undefined;
    if (this.endSessionUrl !== undefined) return Response.json({ end_session_url: this.endSessionUrl });
    return new Response(null, { status: 204 });
  }

  #api(request: Request, body: string): Response {
    const header = request.headers.get("authorization");
    if (header === null)
      return new Response(null, { status: 401, headers: { "www-authenticate": 'Bearer realm="x"' } });
    const token = header.replace(/^Bearer /, "");
    const issued = this.#tokens.get(token);
    const invalid = new Response(null, {
      status: 401,
      headers: { "www-authenticate": 'Bearer realm="x", error="invalid_token"' },
    });
    if (this.refuseAllTokens || issued === undefined || !this.#liveSessions.has(issued.sid)) return invalid;
    if (Date.now() < issued.expiresAt) return Response.json({ ok: true, body });
    if (!this.transparentRefresh || this.cookieSession !== issued.sid) return invalid;
    return Response.json({ ok: true, body }, { headers: { authorization: `Bearer ${this.mint(issued.sid)}` } });
  }
}
