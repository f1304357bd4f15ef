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
 * revokes what it gave, PKCE is S256 only. Everything it stores is capped, and close()
 * leaves no timer running.
 */
import { createHash, randomBytes, randomInt, timingSafeEqual } from "node:crypto";
import type http from "node:http";
import { API_PREFIX, type ApiContext, answerApi, type GitHubUserSpec } from "./github-emulator-api";
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
  /** redirect_uri values the authorize endpoint accepted, oldest first. */
  readonly redirectUris: readonly string[];
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

const CODE_TTL_MS = 10 * 60 * 1000;
const ACCESS_TOKEN_TTL_SECONDS = 28_800;
const REFRESH_TOKEN_TTL_SECONDS = 15_897_600;
/** Codes, tokens and recorded requests kept at most (the oldest are forgotten). */
const MAX_ENTRIES = 10_000;
const MAX_BODY_BYTES = 64 * 1024;
const TROUBLESHOOTING =
  "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors";
const BASE62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

interface Code {
  readonly clientId: string;
  readonly login: string;
  readonly redirectUri: string;
  readonly scopes: readonly string[];
  readonly challenge: string | undefined;
  readonly expiresAt: number;
  used: boolean;
  /** What it was exchanged for, revoked if it comes again. */
  readonly issued: string[];
}

interface Token {
  readonly kind: "access" | "refresh";
  readonly clientId: string;
  readonly login: string;
  readonly scopes: readonly string[];
  readonly expiresAt: number | undefined;
  revoked: boolean;
}

/** GitHub's token format: a prefix and 36 (refresh: 76) base62 characters. */
function tokenOf(prefix: string, length: number): string {
  let token = prefix;
  for (let i = 0; i < length; i++) token += BASE62[randomInt(BASE62.length)];
  return token;
}

/** A map that forgets its oldest entries beyond MAX_ENTRIES. */
function remember<K, V>(map: Map<K, V>, key: K, value: V): void {
  map.set(key, value);
  while (map.size > MAX_ENTRIES) map.delete(map.keys().next().value as K);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

async function readBody(request: http.IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function page(response: http.ServerResponse, status: number, title: string, body = ""): void {
  response
    .writeHead(status, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" })
    .end(
      `<!doctype html><html><head><title>${escapeHtml(title)}</title></head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`,
    );
}

export async function startGitHubEmulator(options: GitHubEmulatorOptions): Promise<GitHubEmulator> {
  const now = options.now ?? Date.now;
  const clients = new Map(options.clients.map((client) => [client.clientId, client]));
  const codes = new Map<string, Code>();
  const tokens = new Map<string, Token>();
  const requests: GitHubRequestRecord[] = [];
  const redirectUris: string[] = [];
  const tokenRequests: string[] = [];
  const forced = new Map<string, ForcedAnswer>();
  const waits = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  let mode: "up" | "503" = "up";
  let closed = false;

  const context: ApiContext & { linkOrigin: string } = {
    users: options.users,
    linkOrigin: "",
    tokenOwner: (value) => {
      const token = tokens.get(value);
      if (token === undefined || token.kind !== "access" || token.revoked) return undefined;
      if (token.expiresAt !== undefined && now() >= token.expiresAt) return undefined;
      return { login: token.login, scopes: token.scopes };
    },
  };

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

  /** A token-endpoint answer: always 200 for an OAuth error, JSON only when asked for. */
  const tokenAnswer = (
    request: http.IncomingMessage,
    response: http.ServerResponse,
    body: Record<string, string | number>,
  ) => {
    const wantsJson = /\bapplication\/json\b/i.test(request.headers.accept ?? "");
    if (wantsJson) {
      response.writeHead(200, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
      response.end(JSON.stringify(body));
      return;
    }
    const form = new URLSearchParams(Object.entries(body).map(([key, value]) => [key, String(value)]));
    response.writeHead(200, {
      "content-type": "application/x-www-form-urlencoded; charset=utf-8",
      "cache-control": "no-store",
    });
    response.end(form.toString());
  };

  const oauthError = (error: string, description: string, anchor: string) => ({
    error,
    error_description: description,
    error_uri: `${TROUBLESHOOTING}#${anchor}`,
  });
  const badCode = () =>
    oauthError("bad_verification_code", "The code passed is incorrect or expired.", "bad-verification-code");
  const badRefresh = () =>
    oauthError("bad_refresh_token", "The refresh token passed is incorrect or expired.", "bad-refresh-token");

  const issueTokens = (clientId: string, login: string, scopes: readonly string[]): Record<string, string | number> => {
    const scope = scopes.join(",");
    if (!options.expiringTokens) {
      const accessToken = tokenOf("gho_", 36);
      remember(tokens, accessToken, { kind: "access", clientId, login, scopes, expiresAt: undefined, revoked: false });
      return { access_token: accessToken, token_type: "bearer", scope };
    }
    const accessToken = tokenOf("ghu_", 36);
    const refreshToken = tokenOf("ghr_", 76);
    const issuedAt = now();
    remember(tokens, accessToken, {
      kind: "access",
      clientId,
      login,
      scopes,
      expiresAt: issuedAt + ACCESS_TOKEN_TTL_SECONDS * 1000,
      revoked: false,
    });
    remember(tokens, refreshToken, {
      kind: "refresh",
      clientId,
      login,
      scopes,
      expiresAt: issuedAt + REFRESH_TOKEN_TTL_SECONDS * 1000,
      revoked: false,
    });
    return {
      access_token: accessToken,
      expires_in: ACCESS_TOKEN_TTL_SECONDS,
      refresh_token: refreshToken,
      refresh_token_expires_in: REFRESH_TOKEN_TTL_SECONDS,
      token_type: "bearer",
      scope,
    };
  };

  /** The authorization request's parameters, checked; or the answer that refuses it (already sent). */
  const authorizationRequest = (response: http.ServerResponse, parameters: URLSearchParams) => {
    const client = clients.get(parameters.get("client_id") ?? "");
    if (client === undefined) return void page(response, 404, "Not Found");
    const redirectUri = parameters.get("redirect_uri") ?? "";
    let redirect: URL;
    try {
      redirect = new URL(redirectUri);
      if (redirect.protocol !== "http:" && redirect.protocol !== "https:") throw new Error("not http(s)");
    } catch {
      return void page(response, 400, "The redirect_uri is missing or not a URL.");
    }
    const state = parameters.get("state") ?? undefined;
    if (client.callbackUrl !== undefined) {
      const registered = new URL(client.callbackUrl);
      const under = `${registered.pathname.replace(/\/$/, "")}/`;
      if (
        redirect.host !== registered.host ||
        (redirect.pathname !== registered.pathname && !redirect.pathname.startsWith(under))
      ) {
        // GitHub sends the user to the registered callback with the error.
        registered.searchParams.set("error", "redirect_uri_mismatch");
        registered.searchParams.set(
          "error_description",
          "The redirect_uri MUST match the registered callback URL for this application.",
        );
        registered.searchParams.set(
          "error_uri",
          "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/#redirect-uri-mismatch",
        );
        if (state !== undefined) registered.searchParams.set("state", state);
        return void response.writeHead(302, { location: registered.href }).end();
      }
    }
    const challenge = parameters.get("code_challenge") ?? undefined;
    const method = parameters.get("code_challenge_method") ?? undefined;
    if (challenge !== undefined || method !== undefined) {
      if (method !== "S256") return void page(response, 400, "Only the S256 code_challenge_method is supported.");
      if (challenge === undefined || !/^[A-Za-z0-9_-]{43}$/.test(challenge)) {
        return void page(response, 400, "The code_challenge is missing or malformed.");
      }
    }
    const scopes = [...new Set((parameters.get("scope") ?? "").split(/[\s,]+/).filter((scope) => scope !== ""))];
    return { client, redirect, redirectUri, state, challenge, scopes };
  };

  const approve = (
    response: http.ServerResponse,
    request: NonNullable<ReturnType<typeof authorizationRequest>>,
    login: string,
  ) => {
    const code = randomBytes(10).toString("hex");
    remember(codes, code, {
      clientId: request.client.clientId,
      login,
      redirectUri: request.redirectUri,
      scopes: request.scopes,
      challenge: request.challenge,
      expiresAt: now() + CODE_TTL_MS,
      used: false,
      issued: [],
    });
    const location = new URL(request.redirect);
    location.searchParams.set("code", code);
    if (request.state !== undefined) location.searchParams.set("state", request.state);
    response.writeHead(302, { location: location.href }).end();
  };

  const consentPage = (response: http.ServerResponse, parameters: URLSearchParams, message = "") => {
    const hidden = [...parameters]
      .filter(([key]) =>
        ["client_id", "redirect_uri", "state", "scope", "code_challenge", "code_challenge_method"].includes(key),
      )
      .map(([key, value]) => `<input type="hidden" name="${escapeHtml(key)}" value="${escapeHtml(value)}">`)
      .join("");
    page(
      response,
      200,
      "Authorize application",
      `${message ? `<p role="alert">${escapeHtml(message)}</p>` : ""}<form method="post" action="/login/oauth/authorize">${hidden}` +
        `<label>Username or email address <input name="login" autocomplete="username"></label>` +
        `<button type="submit" name="decision" value="authorize">Authorize</button>` +
        `<button type="submit" name="decision" value="cancel">Cancel</button></form>`,
    );
  };

  const authorize = async (request: http.IncomingMessage, response: http.ServerResponse, url: URL) => {
    if (request.method === "GET") {
      const checked = authorizationRequest(response, url.searchParams);
      if (checked === undefined) return;
      redirectUris.push(checked.redirectUri);
      if (approveAs === undefined) return consentPage(response, url.searchParams);
      if (options.users[approveAs] === undefined) throw new Error(`approveAs names no user: ${approveAs}`);
      return approve(response, checked, approveAs);
    }
    if (request.method !== "POST") return page(response, 404, "Not Found");
    const form = new URLSearchParams((await readBody(request)) ?? "");
    const checked = authorizationRequest(response, form);
    if (checked === undefined) return;
    if (form.get("decision") === "cancel") {
      const location = new URL(checked.redirect);
      location.searchParams.set("error", "access_denied");
      location.searchParams.set("error_description", "The user has denied your application access.");
      location.searchParams.set(
        "error_uri",
        "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/#access-denied",
      );
      if (checked.state !== undefined) location.searchParams.set("state", checked.state);
      return void response.writeHead(302, { location: location.href }).end();
    }
    const login = form.get("login") ?? "";
    if (options.users[login] === undefined) return consentPage(response, form, "Incorrect username or password.");
    redirectUris.push(checked.redirectUri);
    approve(response, checked, login);
  };

  /** The client from HTTP Basic or the body's client_id and client_secret; undefined when they do not match. */
  const authenticatedClient = (request: http.IncomingMessage, form: URLSearchParams) => {
    let clientId = form.get("client_id") ?? "";
    let clientSecret = form.get("client_secret") ?? "";
    const basic = /^basic\s+(\S+)$/i.exec(request.headers.authorization ?? "");
    if (basic?.[1] !== undefined) {
      const decoded = Buffer.from(basic[1], "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      if (colon < 0) return undefined;
      try {
        clientId = decodeURIComponent(decoded.slice(0, colon));
        clientSecret = decodeURIComponent(decoded.slice(colon + 1));
      } catch {
        return undefined;
      }
    }
    const client = clients.get(clientId);
    return client !== undefined && sameSecret(clientSecret, client.clientSecret) ? client : undefined;
  };

  const exchangeCode = (form: URLSearchParams, clientId: string) => {
    const code = codes.get(form.get("code") ?? "");
    if (code === undefined || code.clientId !== clientId || now() >= code.expiresAt) return badCode();
    if (code.used) {
      // A code that comes twice was stolen, or replayed: what it gave is revoked (RFC 6749 §4.1.2).
      for (const issued of code.issued) {
        const token = tokens.get(issued);
        if (token !== undefined) token.revoked = true;
      }
      return badCode();
    }
    const redirectUri = form.get("redirect_uri");
    if (redirectUri !== null && redirectUri !== code.redirectUri) {
      return oauthError(
        "redirect_uri_mismatch",
        "The redirect_uri MUST match the registered callback URL for this application.",
        "redirect-uri-mismatch",
      );
    }
    if (code.challenge !== undefined) {
      const verifier = form.get("code_verifier") ?? "";
      const expected = createHash("sha256").update(verifier).digest("base64url");
      // GitHub's words for a wrong verifier are not documented; the code's error is the closest.
      if (!/^[A-Za-z0-9._~-]{43,128}$/.test(verifier) || expected !== code.challenge) return badCode();
    }
    code.used = true;
    const answer = issueTokens(clientId, code.login, code.scopes);
    code.issued.push(String(answer.access_token));
    if (answer.refresh_token !== undefined) code.issued.push(String(answer.refresh_token));
    return answer;
  };

  const refresh = (form: URLSearchParams, clientId: string) => {
    const value = form.get("refresh_token") ?? "";
    const token = tokens.get(value);
    if (!options.expiringTokens || token === undefined || token.kind !== "refresh") return badRefresh();
    if (token.revoked || token.clientId !== clientId || (token.expiresAt !== undefined && now() >= token.expiresAt)) {
      return badRefresh();
    }
    // Rotation: a refresh token works once.
    token.revoked = true;
    return issueTokens(clientId, token.login, token.scopes);
  };

  const accessToken = async (request: http.IncomingMessage, response: http.ServerResponse) => {
    if (request.method !== "POST") return page(response, 404, "Not Found");
    const body = await readBody(request);
    if (body === undefined) return void response.writeHead(413).end();
    const form = new URLSearchParams(body);
    const grantType = form.get("grant_type") ?? "authorization_code";
    tokenRequests.push(grantType);
    if (tokenRequests.length > MAX_ENTRIES) tokenRequests.shift();
    const client = authenticatedClient(request, form);
    if (client === undefined) {
      return tokenAnswer(
        request,
        response,
        oauthError(
          "incorrect_client_credentials",
          "The client_id and/or client_secret passed are incorrect.",
          "incorrect-client-credentials",
        ),
      );
    }
    if (grantType === "authorization_code") return tokenAnswer(request, response, exchangeCode(form, client.clientId));
    if (grantType === "refresh_token") return tokenAnswer(request, response, refresh(form, client.clientId));
    tokenAnswer(
      request,
      response,
      oauthError("unsupported_grant_type", "The grant_type passed is not supported.", "unsupported-grant-type"),
    );
  };

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
    if (url.pathname === "/login/oauth/authorize") return authorize(request, response, url);
    if (url.pathname === "/login/oauth/access_token") return accessToken(request, response);
    if (url.pathname === API_PREFIX || url.pathname.startsWith(`${API_PREFIX}/`)) {
      return answerApi(context, request, response, url);
    }
    page(response, 404, "Not Found");
  };

  const loopback = await loopbackServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(500, { "content-type": "text/plain" });
      response.end(error instanceof Error ? error.message : "error");
    });
  });
  context.linkOrigin = loopback.origin;
  let approveAs: string | undefined;

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
    redirectUris,
    countTokenRequests: (grantType) =>
      grantType === undefined ? tokenRequests.length : tokenRequests.filter((type) => type === grantType).length,
    revokeTokens: (login) => {
      for (const token of tokens.values()) if (token.login === login) token.revoked = true;
    },
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
