/**
 * The browser side of client-managed refresh: a `fetch` wrapper that keeps the access
 * token in memory only, refreshes it shortly before it expires through
 * `POST /auth/refresh` (the refresh token stays in its HttpOnly cookie), runs one refresh
 * at a time however many calls wait for it, retries a call once after a 401
 * `invalid_token`, adopts a token the gateway refreshed on its own (the `Authorization`
 * response header), and says "session ended" exactly once per session.
 *
 * With DPoP (the default where WebCrypto is), every request carries a proof signed with
 * the browser's non-extractable key (dpop-prover.ts) and the tokens are bound to it.
 *
 * No dependencies and no Worker types: it runs in any browser and in Node ≥ 18.
 */
import {
  credentialFromHeader,
  type HeldToken,
  holdToken,
  isInvalidTokenChallenge,
  isNotOlder,
  readTokenResponse,
  type TokenScheme,
} from "./access-token";
import {
  type FetchFunction,
  type PortcullisClientOptions,
  type ResolvedOptions,
  resolveOptions,
  type SessionEndReason,
  type TokenSource,
} from "./client-options";
import { DpopProver, isNonceChallenge } from "./dpop-prover";
import { endSessionUrlOf, loginToken } from "./endpoint-answers";
import { credentialHeaders, postToTokenEndpoint, type RequestAuthorization } from "./gateway-request";
import { RefreshFlight, type RefreshOutcome } from "./refresh-flight";
import {
  deleteSession,
  fetchSessionPage,
  fetchSessions,
  revokeOtherSessions,
  type SessionInfo,
  type SessionPage,
  type SessionPageOptions,
} from "./session-list";
import { TabCoordinator, type TabMessage } from "./tab-coordinator";

/** Report a throwing callback without breaking the client. */
function callSafely(callback: () => void): void {
  try {
    callback();
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}

export class PortcullisClient {
  readonly #origin: string;
  readonly #fetch: FetchFunction;
  readonly #now: () => number;
  readonly #skewMs: number;
  readonly #proactive: boolean;
  readonly #timeoutMs: number;
  readonly #credentials: RequestCredentials;
  readonly #paths: ResolvedOptions["paths"];
  readonly #tabs: TabCoordinator | undefined;
  readonly #dpop: DpopProver | undefined;
  readonly #onTokenChange: ResolvedOptions["onTokenChange"];
  readonly #onSessionEnded: ResolvedOptions["onSessionEnded"];

  readonly #flight: RefreshFlight;

  #token: HeldToken | undefined;
  /** Bumped whenever a session starts or ends, so a late answer cannot revive an old one. */
  #epoch = 0;

  constructor(options: PortcullisClientOptions = {}) {
    const resolved = resolveOptions(options);
    this.#origin = resolved.origin;
    this.#fetch = resolved.fetch;
    this.#now = resolved.now;
    this.#skewMs = resolved.skewMs;
    this.#proactive = resolved.proactive;
    this.#timeoutMs = resolved.timeoutMs;
    this.#credentials = resolved.credentials;
    this.#paths = resolved.paths;
    this.#onTokenChange = resolved.onTokenChange;
    this.#onSessionEnded = resolved.onSessionEnded;
    const store = resolved.dpopKeyStore;
    this.#dpop = store && new DpopProver({ origin: this.#origin, store, now: this.#now });
    this.#tabs = resolved.crossTab && new TabCoordinator(resolved.crossTab, (message) => this.#receive(message));
    const host = {
      current: () => this.#token,
      isDue: (token: HeldToken) => this.#isDue(token),
      refresh: () => this.#refresh(),
    };
    this.#flight = new RefreshFlight(host, this.#tabs);
  }

  /** True while the client holds an access token. */
  get isAuthenticated(): boolean {
    return this.#token !== undefined;
  }

  /** When the held access token expires (local clock, ms), or undefined. */
  get expiresAt(): number | undefined {
    return this.#token?.expiresAt;
  }

  /** How the held token is sent: `"DPoP"` when it is bound to this browser's key; undefined without one. */
  get tokenScheme(): TokenScheme | undefined {
    return this.#token?.scheme;
  }

  /**
   * The RFC 7638 thumbprint of this client's DPoP key (the `cnf.jkt` of its bound tokens),
   * making the key on first use; undefined with DPoP off or where no key could be made.
   */
  async dpopThumbprint(): Promise<string | undefined> {
    return (await this.#dpop?.key())?.thumbprint;
  }

  /** The session id (`sid`) of the held token, or undefined. */
  get sessionId(): string | undefined {
    return this.#token?.sessionId;
  }

  /**
   * Log in with a username and password. Throws `PortcullisClientError` with code
   * `credentials_invalid`, `rate_limited`, `login_failed` or `network_error`.
   */
  async login(username: string, password: string): Promise<void> {
    const response = await this.#post(this.#paths.login, JSON.stringify({ username, password }));
    const token = await loginToken(response, this.#now());
    this.#epoch += 1;
    this.#adopt(token, "login", true);
  }

  /**
   * Pick up the session after a page load: the token lived in memory only, the refresh
   * cookie survived. Resolves true when there is a session; false (and no
   * `onSessionEnded`) when there is none.
   */
  async resume(): Promise<boolean> {
    if (this.#token !== undefined) return true;
    await this.#flight.once();
    return this.#token !== undefined;
  }

  /**
   * End the session at the gateway and in every tab. Throws `network_error` if the gateway
   * was unreachable. For a session begun at an OpenID Connect provider, `endSessionUrl` is
   * where the browser can go to end the provider's session too.
   */
  async logout(): Promise<{ endSessionUrl?: string }> {
    const token = this.#token;
    this.#end("logout", true);
    return endSessionUrlOf(await this.#post(this.#paths.logout, undefined, token));
  }

  /** The user's sessions at the gateway, newest first, the current one marked: every page. */
  listSessions(): Promise<SessionInfo[]> {
    return fetchSessions((input, init) => this.fetch(input, init));
  }

  /**
   * One page of the user's sessions (`limit` 1–100, default 50) and the `nextCursor` to
   * pass for the next one, absent on the last page.
   * @example
   * let page = await client.listSessionsPage({ limit: 20 });
   * while (page.nextCursor) page = await client.listSessionsPage({ limit: 20, cursor: page.nextCursor });
   */
  listSessionsPage(options: SessionPageOptions = {}): Promise<SessionPage> {
    return fetchSessionPage((input, init) => this.fetch(input, init), options);
  }

  /**
   * End one of the user's sessions (throws `session_not_found` for any other id). Ending
   * the current one ends this client's session too, in every tab.
   */
  async endSession(id: string): Promise<void> {
    await deleteSession((input, init) => this.fetch(input, init), id);
    if (id === this.sessionId) this.#end("logout", true);
  }

  /** Sign out everywhere else; resolves to how many sessions ended. */
  endOtherSessions(): Promise<number> {
    return revokeOtherSessions((input, init) => this.fetch(input, init));
  }

  /**
   * The access token to send now, refreshed first when it is about to expire (and
   * `proactiveRefresh` is on); undefined without a session. For transports the client
   * does not wrap (WebSocket URLs, other HTTP libraries).
   */
  async getAccessToken(): Promise<string | undefined> {
    return (await this.#currentToken())?.value;
  }

  /**
   * The headers for a request to the gateway (`Authorization`, and with a DPoP token a
   * fresh `DPoP` proof for this method and URL), refreshing first like `getAccessToken`.
   * For adapters such as the axios one; send each proof once.
   */
  async requestHeaders(method: string, url: string | URL): Promise<RequestAuthorization> {
    const token = await this.#currentToken();
    const headers = await credentialHeaders(this.#dpop, method, new URL(url, `${this.#origin}/`), token);
    return { token: token?.value, headers: Object.fromEntries(headers) };
  }

  /** True when requests to `url` get the access token (only the gateway's origin does). */
  authorizes(url: string | URL): boolean {
    try {
      return new URL(url, `${this.#origin}/`).origin === this.#origin;
    } catch {
      return false;
    }
  }

  /**
   * `fetch` with the access token (and a DPoP proof with a DPoP token). Relative URLs go to the gateway; other origins get a
   * plain `fetch` without the token; a request that sets its own `Authorization` is left alone.
   */
  async fetch(input: Request | string | URL, init?: RequestInit): Promise<Response> {
    const template =
      input instanceof Request
        ? new Request(input, init)
        : new Request(new URL(input, `${this.#origin}/`), { credentials: this.#credentials, ...init });
    if (!this.authorizes(template.url) || template.headers.has("authorization")) return this.#fetch(template);
    let token = await this.#currentToken();
    // At most one retry with the gateway's new DPoP nonce and one after a refresh.
    const retried = new Set<"nonce" | "token">();
    for (;;) {
      const response = await this.#fetch(await this.#authorized(template.clone(), token));
      const header = (name: string) => response.headers.get(name);
      const kind = isNonceChallenge(response.status, header("www-authenticate")) ? "nonce" : "token";
      if (retried.has(kind)) {
        this.#observe(header);
        return response;
      }
      if (!(await this.afterResponse(token?.value, response.status, header))) return response;
      retried.add(kind);
      await response.body?.cancel();
      token = this.#token;
    }
  }

  /**
   * What to do with a gateway's answer to a request sent with `tokenUsed`: adopts a token
   * the gateway refreshed and its DPoP nonce, asks for a new proof after a 401
   * `use_dpop_nonce`, and after a 401 `invalid_token` refreshes (once for all callers).
   * Resolves true when the request should be sent again with the current token.
   * Used by `fetch` and by adapters such as the axios one.
   */
  async afterResponse(
    tokenUsed: string | undefined,
    status: number,
    header: (name: string) => string | null | undefined,
  ): Promise<boolean> {
    this.#observe(header);
    const nonceDemanded = isNonceChallenge(status, header("www-authenticate")) && this.#dpop?.nonce !== undefined;
    if (tokenUsed !== undefined && nonceDemanded) return true;
    if (tokenUsed === undefined || !isInvalidTokenChallenge(status, header("www-authenticate"))) return false;
    if (this.#token === undefined) return false;
    // Another call (or tab) has refreshed since this one was sent: just use the new token.
    if (this.#token.value !== tokenUsed) return true;
    await this.#flight.once();
    return this.#token !== undefined && this.#token.value !== tokenUsed;
  }

  /** Stop listening to other tabs. The client keeps working in this tab. */
  close(): void {
    this.#tabs?.close();
  }

  #isDue(token: HeldToken): boolean {
    const skew = Math.min(this.#skewMs, (token.expiresAt - token.receivedAt) / 2);
    return this.#now() >= token.expiresAt - skew;
  }

  async #currentToken(): Promise<HeldToken | undefined> {
    const token = this.#token;
    if (token === undefined || !this.#proactive || !this.#isDue(token)) return token;
    await this.#flight.once();
    return this.#token;
  }

  async #authorized(request: Request, token: HeldToken | undefined): Promise<Request> {
    const headers = await credentialHeaders(this.#dpop, request.method, new URL(request.url), token);
    for (const [name, value] of headers) request.headers.set(name, value);
    return request;
  }

  #observe(header: (name: string) => string | null | undefined): void {
    this.#adoptFromGateway(header("authorization"));
    this.#dpop?.observe(header);
  }

  async #refresh(): Promise<RefreshOutcome> {
    const epoch = this.#epoch;
    const hadSession = this.#token !== undefined;
    let response: Response;
    try {
      response = await this.#post(this.#paths.refresh, undefined);
    } catch {
      return "unavailable";
    }
    if (response.status === 400 || response.status === 401) {
      await response.body?.cancel();
      if (epoch === this.#epoch && hadSession) this.#end("refresh_rejected", true);
      return "rejected";
    }
    const token = response.ok ? await readTokenResponse(response, this.#now()) : undefined;
    if (token === undefined) {
      await response.body?.cancel().catch(() => undefined);
      return "unavailable";
    }
    if (epoch !== this.#epoch) return "rejected";
    this.#adopt(token, hadSession ? "refresh" : "resume", true);
    return "refreshed";
  }

  #post(path: string, body: string | undefined, token?: HeldToken): Promise<Response> {
    return postToTokenEndpoint({
      fetch: this.#fetch,
      dpop: this.#dpop,
      url: new URL(path, `${this.#origin}/`),
      credentials: this.#credentials,
      timeoutMs: this.#timeoutMs,
      body,
      token,
    });
  }

  #adoptFromGateway(authorization: string | null | undefined): void {
    const credential = credentialFromHeader(authorization);
    // Never revive a session that ended while the request was under way.
    if (credential === undefined || this.#token === undefined || credential.token === this.#token.value) return;
    const token = holdToken(credential.token, this.#now(), undefined, credential.scheme);
    if (isNotOlder(token, this.#token)) this.#adopt(token, "gateway", true);
  }

  #adopt(token: HeldToken, source: TokenSource, tellOtherTabs: boolean): void {
    this.#token = token;
    if (tellOtherTabs)
      this.#tabs?.publish({ type: "token", token: token.value, expiresAt: token.expiresAt, scheme: token.scheme });
    const onTokenChange = this.#onTokenChange;
    if (onTokenChange) {
      const change = { source, expiresAt: token.expiresAt, sessionId: token.sessionId };
      callSafely(() => onTokenChange(change));
    }
  }

  #end(reason: SessionEndReason, tellOtherTabs: boolean): void {
    const ended = this.#token;
    this.#epoch += 1;
    if (ended === undefined) return;
    this.#token = undefined;
    if (tellOtherTabs && ended.sessionId !== undefined) {
      this.#tabs?.publish({ type: "ended", sessionId: ended.sessionId });
    }
    const onSessionEnded = this.#onSessionEnded;
    if (onSessionEnded) callSafely(() => onSessionEnded(reason));
  }

  #receive(message: TabMessage): void {
    if (message.type === "ended") {
      if (this.#token?.sessionId === message.sessionId) this.#end("ended_in_other_tab", false);
      return;
    }
    if (message.token === this.#token?.value) return;
    const token = { ...holdToken(message.token, this.#now(), undefined, message.scheme), expiresAt: message.expiresAt };
    if (!isNotOlder(token, this.#token)) return;
    if (this.#token === undefined || this.#token.sessionId !== token.sessionId) this.#epoch += 1;
    this.#adopt(token, "other_tab", false);
  }
}

/** Create a client. See {@link PortcullisClientOptions} for the defaults. */
export function createPortcullisClient(options: PortcullisClientOptions = {}): PortcullisClient {
  return new PortcullisClient(options);
}
