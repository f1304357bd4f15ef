/**
 * What the GitHub emulator (github-emulator.ts) has granted, and its token endpoint
 * (/login/oauth/access_token): single-use codes bound to a client, a redirect URI and a
 * PKCE challenge; access tokens (`gho_`, or `ghu_` with a rotating `ghr_` refresh token
 * when tokens expire); the code and refresh grants, answered as GitHub answers them
 * (an OAuth error is HTTP 200; JSON only when `Accept: application/json`, else a form).
 * Every map is capped: the oldest entries are forgotten.
 */
import { createHash, randomBytes, randomInt, timingSafeEqual } from "node:crypto";
import type http from "node:http";

export interface GrantSettings {
  /** Client secrets by client id. */
  readonly clients: ReadonlyMap<string, string>;
  readonly expiringTokens: boolean;
  readonly now: () => number;
}

export interface CodeRequest {
  readonly clientId: string;
  readonly login: string;
  readonly redirectUri: string;
  readonly scopes: readonly string[];
  /** The S256 code challenge, when the authorization request sent one. */
  readonly challenge: string | undefined;
}

interface Code extends CodeRequest {
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

type TokenAnswer = Record<string, string | number>;

const CODE_TTL_MS = 10 * 60 * 1000;
const ACCESS_TOKEN_TTL_SECONDS = 28_800;
const REFRESH_TOKEN_TTL_SECONDS = 15_897_600;
/** Codes, tokens and counted requests kept at most. */
export const MAX_ENTRIES = 10_000;
const MAX_BODY_BYTES = 64 * 1024;
const TROUBLESHOOTING =
  "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/";
const BASE62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** GitHub's token format: a prefix and random base62 characters (36 for access tokens, 76 for refresh tokens). */
function tokenOf(prefix: string, length: number): string {
  let token = prefix;
  for (let i = 0; i < length; i++) token += BASE62[randomInt(BASE62.length)];
  return token;
}

/** Sets `key` and forgets the map's oldest entries beyond MAX_ENTRIES. */
function remember<K, V>(map: Map<K, V>, key: K, value: V): void {
  map.set(key, value);
  while (map.size > MAX_ENTRIES) map.delete(map.keys().next().value as K);
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The request's body as text, or undefined beyond 64 KiB. */
export async function readBody(request: http.IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function oauthError(error: string, description: string, anchor: string): TokenAnswer {
  return { error, error_description: description, error_uri: `${TROUBLESHOOTING}#${anchor}` };
}

const badCode = () =>
  oauthError("bad_verification_code", "The code passed is incorrect or expired.", "bad-verification-code");
const badRefresh = () =>
  oauthError("bad_refresh_token", "The refresh token passed is incorrect or expired.", "bad-refresh-token");

/** An OAuth answer as GitHub sends it: always 200, JSON only when asked for. */
function sendTokenAnswer(request: http.IncomingMessage, response: http.ServerResponse, body: TokenAnswer): void {
  const headers = { "cache-control": "no-store" };
  if (/\bapplication\/json\b/i.test(request.headers.accept ?? "")) {
    response
      .writeHead(200, { ...headers, "content-type": "application/json; charset=utf-8" })
      .end(JSON.stringify(body));
    return;
  }
  const form = new URLSearchParams(Object.entries(body).map(([key, value]) => [key, String(value)]));
  response
    .writeHead(200, { ...headers, "content-type": "application/x-www-form-urlencoded; charset=utf-8" })
    .end(form.toString());
}

export class GitHubGrants {
  readonly #settings: GrantSettings;
  readonly #codes = new Map<string, Code>();
  readonly #tokens = new Map<string, Token>();
  /** The grant type of each token request, oldest first. */
  readonly #tokenRequests: string[] = [];

  constructor(settings: GrantSettings) {
    this.#settings = settings;
  }

  /** A fresh code for an approved authorization request: random, single use, 10 minutes. */
  issueCode(request: CodeRequest): string {
    const code = randomBytes(10).toString("hex"); // GitHub's codes are 20 hex digits
    remember(this.#codes, code, { ...request, expiresAt: this.#settings.now() + CODE_TTL_MS, used: false, issued: [] });
    return code;
  }

  /** The login and scopes of a live access token; undefined when unknown, expired or revoked. */
  tokenOwner(value: string): { readonly login: string; readonly scopes: readonly string[] } | undefined {
    const token = this.#tokens.get(value);
    if (token === undefined || token.kind !== "access" || !this.#live(token)) return undefined;
    return { login: token.login, scopes: token.scopes };
  }

  revokeTokens(login: string): void {
    for (const token of this.#tokens.values()) if (token.login === login) token.revoked = true;
  }

  countTokenRequests(grantType?: string): number {
    const all = this.#tokenRequests;
    return grantType === undefined ? all.length : all.filter((type) => type === grantType).length;
  }

  /** POST /login/oauth/access_token. */
  async answerTokenRequest(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const body = await readBody(request);
    if (body === undefined) return void response.writeHead(413).end();
    const form = new URLSearchParams(body);
    // GitHub's code exchange needs no grant_type.
    const grantType = form.get("grant_type") ?? "authorization_code";
    this.#tokenRequests.push(grantType);
    if (this.#tokenRequests.length > MAX_ENTRIES) this.#tokenRequests.shift();
    const clientId = this.#authenticatedClient(request, form);
    let answer: TokenAnswer;
    if (clientId === undefined) {
      answer = oauthError(
        "incorrect_client_credentials",
        "The client_id and/or client_secret passed are incorrect.",
        "incorrect-client-credentials",
      );
    } else if (grantType === "authorization_code") {
      answer = this.#exchangeCode(form, clientId);
    } else if (grantType === "refresh_token") {
      answer = this.#refresh(form, clientId);
    } else {
      answer = oauthError(
        "unsupported_grant_type",
        "The grant_type passed is not supported.",
        "unsupported-grant-type",
      );
    }
    sendTokenAnswer(request, response, answer);
  }

  /**
   * DELETE /applications/{client_id}/token (the REST API): the app revokes one of its
   * tokens, authenticating with HTTP Basic (its id and secret) and naming the token in a
   * JSON body. 204; 404 for other credentials; 422 for a token that is not the app's.
   */
  async answerTokenDeletion(
    request: http.IncomingMessage,
    response: http.ServerResponse,
    clientId: string,
  ): Promise<void> {
    const send = (status: number, body?: object): void =>
      void response
        .writeHead(status, body ? { "content-type": "application/json; charset=utf-8" } : {})
        .end(body ? JSON.stringify(body) : undefined);
    const text = await readBody(request);
    if (this.#authenticatedClient(request, new URLSearchParams()) !== clientId)
      return send(404, { message: "Not Found" });
    let value: unknown;
    try {
      value = (JSON.parse(text ?? "") as { access_token?: unknown }).access_token;
    } catch {
      return send(400, { message: "Problems parsing JSON" });
    }
    const token = typeof value === "string" ? this.#tokens.get(value) : undefined;
    if (token === undefined || token.clientId !== clientId || token.kind !== "access") {
      return send(422, { message: "Validation Failed" });
    }
    token.revoked = true;
    this.revocations += 1;
    return send(204);
  }

  /** Tokens apps revoked through the REST API. */
  revocations = 0;

  #live(token: Token): boolean {
    return !token.revoked && (token.expiresAt === undefined || this.#settings.now() < token.expiresAt);
  }

  /** The client id from HTTP Basic or the body's client_id and client_secret; undefined when they do not match. */
  #authenticatedClient(request: http.IncomingMessage, form: URLSearchParams): string | undefined {
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
    const secret = this.#settings.clients.get(clientId);
    return secret !== undefined && sameSecret(clientSecret, secret) ? clientId : undefined;
  }

  #exchangeCode(form: URLSearchParams, clientId: string): TokenAnswer {
    const code = this.#codes.get(form.get("code") ?? "");
    if (code === undefined || code.clientId !== clientId || this.#settings.now() >= code.expiresAt) return badCode();
    if (code.used) {
      // A code that comes twice was stolen or replayed: what it gave is revoked (RFC 6749 §4.1.2).
      for (const issued of code.issued) {
        const token = this.#tokens.get(issued);
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
      // GitHub's words for a wrong verifier are not documented; the code's own error is the closest.
      if (!/^[A-Za-z0-9._~-]{43,128}$/.test(verifier) || expected !== code.challenge) return badCode();
    }
    code.used = true;
    const answer = this.#issueTokens(clientId, code.login, code.scopes);
    code.issued.push(String(answer.access_token));
    if (answer.refresh_token !== undefined) code.issued.push(String(answer.refresh_token));
    return answer;
  }

  #refresh(form: URLSearchParams, clientId: string): TokenAnswer {
    const token = this.#tokens.get(form.get("refresh_token") ?? "");
    if (!this.#settings.expiringTokens || token === undefined || token.kind !== "refresh") return badRefresh();
    if (token.clientId !== clientId || !this.#live(token)) return badRefresh();
    // Rotation: a refresh token works once.
    token.revoked = true;
    return this.#issueTokens(clientId, token.login, token.scopes);
  }

  #issueTokens(clientId: string, login: string, scopes: readonly string[]): TokenAnswer {
    // GitHub answers the granted scopes comma-separated.
    const scope = scopes.join(",");
    const now = this.#settings.now();
    const grant = { clientId, login, scopes, revoked: false };
    if (!this.#settings.expiringTokens) {
      const accessToken = tokenOf("gho_", 36);
      remember(this.#tokens, accessToken, { ...grant, kind: "access", expiresAt: undefined });
      return { access_token: accessToken, token_type: "bearer", scope };
    }
    const accessToken = tokenOf("ghu_", 36);
    const refreshToken = tokenOf("ghr_", 76);
    remember(this.#tokens, accessToken, { ...grant, kind: "access", expiresAt: now + ACCESS_TOKEN_TTL_SECONDS * 1000 });
    remember(this.#tokens, refreshToken, {
      ...grant,
      kind: "refresh",
      expiresAt: now + REFRESH_TOKEN_TTL_SECONDS * 1000,
    });
    return {
      access_token: accessToken,
      expires_in: ACCESS_TOKEN_TTL_SECONDS,
      refresh_token: refreshToken,
      refresh_token_expires_in: REFRESH_TOKEN_TTL_SECONDS,
      token_type: "bearer",
      scope,
    };
  }
}
