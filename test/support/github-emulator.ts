/**
 * A small GitHub on 127.0.0.1, shaped like GitHub Enterprise Server so the gateway can be
 * pointed at it with one base URL: the OAuth web flow at /login/oauth/authorize and
 * /login/oauth/access_token, the REST API under /api/v3 (github-emulator-api.ts).
 *
 *   const github = await startGitHubEmulator({
 *     clients: [{ clientId: "gh-client", clientSecret: "…" }],
 *     users: { alice: { id: 1001, name: "Alice", emails: [{ email: "alice@acme.test", primary: true, verified: true }],
 *                       orgs: ["acme"], teams: [{ org: "acme", slug: "platform" }] } },
 *     expiringTokens: true,        // GitHub-App style: expires_in, a rotating ghr_ refresh token
 *   });
 *   github.approveAs = "alice";    // authorize redirects at once; undefined: a consent page to submit
 *   github.apiUrl                  // origin + "/api/v3"
 *   github.revokeTokens("alice"); await github.down("503"); github.delayMs = 500;
 *   await github.close();
 *
 * It behaves like GitHub where a client can tell: token errors are HTTP 200 with an
 * `error` field, JSON only when asked for with `Accept: application/json` (else a form
 * body), scopes are answered comma-separated, codes are single use and a reused code
 * revokes what it gave, PKCE is S256 only (github-emulator-authorize.ts, github-emulator-grants.ts).
 * Everything it stores is capped, and close() leaves no timer running.
 */
import type http from "node:http";
import { API_PREFIX, type ApiContext, answerApi, type GitHubUserSpec } from "./github-emulator-api";
import { answerAuthorize, sendPage } from "./github-emulator-authorize";
import { GitHubGrants, MAX_ENTRIES } from "./github-emulator-grants";
import { loopbackServer } from "./loopback-server";

export type { GitHubEmailSpec, GitHubUserSpec } from "./github-emulator-api";

export interface GitHubClientSpec {
  readonly clientId: string;
  readonly clientSecret: string;
  /**
   * The registered callback URL. When set, a redirect_uri must be on its host and port and
   * under its path, as GitHub requires; when unset, any http(s) redirect_uri is taken.
   */
  readonly callbackUrl?: string;
}

export interface GitHubEmulatorOptions {
  readonly clients: readonly GitHubClientSpec[];
  /** Users by login. */
  readonly users: Readonly<Record<string, GitHubUserSpec>>;
  /**
   * GitHub-App style tokens: `ghu_` access tokens with expires_in 28800, a `ghr_` refresh
   * token with refresh_token_expires_in 15897600, and the refresh grant with rotation
   * (a refresh token works once).
   */
  readonly expiringTokens?: boolean;
  /** The clock, in milliseconds (default Date.now): code, token and refresh-token expiry read it. */
  readonly now?: () => number;
}

export interface GitHubRequestRecord {
  readonly method: string;
  /** The path, without the query. */
  readonly path: string;
  /** The query string, with its "?", or "". */
  readonly query: string;
  /** Whether the request carried an Authorization header. */
  readonly authorization: boolean;
}

/** A raw answer a test forces for one path (malformed JSON, a wrong shape, a status). */
export interface ForcedAnswer {
  readonly status?: number;
  readonly body: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface GitHubEmulator {
  /** http://127.0.0.1:<port>: the web base (GHES's host). */
  readonly origin: string;
  /** origin + "/api/v3". */
  readonly apiUrl: string;
  readonly authorizeUrl: string;
  readonly tokenUrl: string;
  /** The user the authorize endpoint signs in at once; undefined shows the consent page. */
  approveAs: string | undefined;
  /** Milliseconds every answer waits (timeouts). */
  delayMs: number;
  /** The origin pagination links name; set it to another to emulate an API linking elsewhere. */
  linkOrigin: string;
  /** Everything it saw, oldest first (the last 10 000). */
  readonly requests: readonly GitHubRequestRecord[];
  /** redirect_uri values of the authorization requests approved, oldest first. */
  readonly redirectUris: readonly string[];
  /** Tokens the app revoked with DELETE /applications/{client_id}/token. */
  readonly tokenRevocations: number;
  /** Requests to the token endpoint; with a grant type ("authorization_code" when the request named none), only those. */
  countTokenRequests(grantType?: string): number;
  /** Every token of that user (access and refresh) now gets 401 Bad credentials / bad_refresh_token. */
  revokeTokens(login: string): void;
  /** Answers `answer` at `path` (e.g. "/api/v3/user/orgs") until called again with undefined. */
  forceAnswer(path: string, answer: ForcedAnswer | undefined): void;
  /** "refused": the port stops listening; "503": every request answers 503. */
  down(mode: "refused" | "503"): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function startGitHubEmulator(options: GitHubEmulatorOptions): Promise<GitHubEmulator> {
  const grants = new GitHubGrants({
    clients: new Map(options.clients.map((client) => [client.clientId, client.clientSecret])),
    expiringTokens: options.expiringTokens ?? false,
    now: options.now ?? Date.now,
  });
  const requests: GitHubRequestRecord[] = [];
  const redirectUris: string[] = [];
  const forced = new Map<string, ForcedAnswer>();
  const waits = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  let mode: "up" | "503" = "up";
  let closed = false;
  let approveAs: string | undefined;

  const context: ApiContext & { linkOrigin: string } = {
    users: options.users,
    linkOrigin: "",
    tokenOwner: (token) => grants.tokenOwner(token),
  };
  const authorizeSettings = {
    clients: new Map(options.clients.map((client) => [client.clientId, client.callbackUrl])),
    users: options.users,
    grants,
    approveAs: () => approveAs,
    accepted: (redirectUri: string) => {
      redirectUris.push(redirectUri);
      if (redirectUris.length > MAX_ENTRIES) redirectUris.shift();
    },
  };

  /** Waits `ms`, or until close(). */
  const delay = (ms: number) =>
    new Promise<void>((resolve) => {
      const wait = {
        timer: setTimeout(() => {
          waits.delete(wait);
          resolve();
        }, ms),
        resolve,
      };
      waits.add(wait);
    });

  const handle = async (request: http.IncomingMessage, response: http.ServerResponse) => {
    const url = new URL(request.url ?? "/", "http://127.0.0.1");
    requests.push({
      method: request.method ?? "GET",
      path: url.pathname,
      query: url.search,
      authorization: request.headers.authorization !== undefined,
    });
    if (requests.length > MAX_ENTRIES) requests.shift();
    if (emulator.delayMs > 0) await delay(emulator.delayMs);
    if (closed || response.destroyed) return;
    if (mode === "503")
      return void response.writeHead(503, { "content-type": "text/plain" }).end("Service Unavailable");
    const answer = forced.get(url.pathname);
    if (answer !== undefined) {
      return void response
        .writeHead(answer.status ?? 200, { "content-type": "application/json; charset=utf-8", ...answer.headers })
        .end(answer.body);
    }
    if (url.pathname === "/login/oauth/authorize") return answerAuthorize(authorizeSettings, request, response, url);
    if (url.pathname === "/login/oauth/access_token") {
      if (request.method !== "POST") return sendPage(response, 404, "Not Found");
      return grants.answerTokenRequest(request, response);
    }
    const deletion = /^\/api\/v3\/applications\/([^/]+)\/token$/.exec(url.pathname);
    if (deletion?.[1] !== undefined && request.method === "DELETE") {
      return grants.answerTokenDeletion(request, response, decodeURIComponent(deletion[1]));
    }
    if (url.pathname === API_PREFIX || url.pathname.startsWith(`${API_PREFIX}/`)) {
      return answerApi(context, request, response, url);
    }
    sendPage(response, 404, "Not Found");
  };

  const loopback = await loopbackServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(500, { "content-type": "text/plain" });
      response.end(error instanceof Error ? error.message : "error");
    });
  });
  context.linkOrigin = loopback.origin;

  const emulator: GitHubEmulator = {
    origin: loopback.origin,
    apiUrl: `${loopback.origin}${API_PREFIX}`,
    authorizeUrl: `${loopback.origin}/login/oauth/authorize`,
    tokenUrl: `${loopback.origin}/login/oauth/access_token`,
    get approveAs() {
      return approveAs;
    },
    set approveAs(login) {
      approveAs = login;
    },
    delayMs: 0,
    get linkOrigin() {
      return context.linkOrigin;
    },
    set linkOrigin(origin) {
      context.linkOrigin = origin;
    },
    requests,
    get tokenRevocations() {
      return grants.revocations;
    },
    redirectUris,
    countTokenRequests: (grantType) => grants.countTokenRequests(grantType),
    revokeTokens: (login) => grants.revokeTokens(login),
    forceAnswer: (path, answer) => {
      if (answer === undefined) forced.delete(path);
      else forced.set(path, answer);
    },
    down: async (next) => {
      if (next === "refused") return loopback.stop();
      loopback.cutConnections();
      mode = next;
    },
    up: async () => {
      mode = "up";
      await loopback.listen();
    },
    close: async () => {
      closed = true;
      for (const wait of waits) {
        clearTimeout(wait.timer);
        wait.resolve();
      }
      waits.clear();
      await loopback.stop();
    },
  };
  return emulator;
}
