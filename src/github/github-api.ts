/**
 * GitHub's REST API as the login reads it: one authenticated GET of an object, and a list
 * followed through its `Link: rel="next"` pages. Every answer is mapped here, once, to
 * what the login does with it:
 *
 * - a network failure, a timeout, a 5xx or a rate limit: `idp_unavailable` (503, Retry-After);
 * - 401 (the token is bad, revoked or expired), a redirect, any other status, a body that
 *   is not JSON: `login_failed`;
 * - 403 or 404 on a list: the token lacks the scope (user:email, read:org), so the list is
 *   absent, which is not an error.
 *
 * The token goes only to the configured API origin: a `Link` naming another origin is not
 * followed, and redirects are not followed at all. Details never carry the token.
 *
 * Lower layer: imports only errors and log.
 */
import { GatewayError } from "../errors/gateway-error";
import { readCappedBytes } from "../http/read-body";
import { log } from "../log/logger";

/** The REST API version the shapes below were written against. */
export const GITHUB_API_VERSION = "2022-11-28";
/** Seconds a client should wait before trying a login again while GitHub is unreachable. */
export const GITHUB_RETRY_AFTER_SECONDS = 5;
/** GitHub's largest page. */
export const GITHUB_PAGE_SIZE = 100;
/**
 * Pages read of one list. A user in more than 1000 organisations or teams has the rest cut
 * off (logged as `github_list_cut_off`): a login must not cost more than a few requests,
 * and a list cut short can only make an allow rule fail, never pass.
 */
export const GITHUB_MAX_PAGES = 10;
const DEFAULT_TIMEOUT_MS = 5_000;
/** A page of 100 teams, each with its organisation, is about 200 KB; anything far larger is not GitHub. */
const MAX_BODY_BYTES = 2 * 1024 * 1024;
/** The longest Retry-After from a rate limit we pass on to the client. */
const MAX_RETRY_AFTER_SECONDS = 3600;

export interface GitHubRequestOptions {
  /** "https://api.github.com", or "<ghes>/api/v3". */
  readonly apiUrl: string;
  readonly accessToken: string;
  /** A fresh signal per request; default a 5 s timeout. */
  readonly signal?: () => AbortSignal;
}

export function loginRefused(detail: string, cause?: unknown): GatewayError {
  return new GatewayError("login_failed", { detail, cause });
}

function githubDown(detail: string, cause?: unknown, retryAfter = GITHUB_RETRY_AFTER_SECONDS): GatewayError {
  return new GatewayError("idp_unavailable", { detail, cause, retryAfter });
}

/** The API base without trailing slashes; a value that is not an http(s) URL is a configuration mistake. */
function apiBase(apiUrl: string): URL {
  let base: URL;
  try {
    base = new URL(apiUrl.replace(/\/+$/, ""));
  } catch (error) {
    throw new GatewayError("misconfigured", { detail: "the GitHub API URL is not a URL", cause: error });
  }
  if (base.protocol !== "https:" && base.protocol !== "http:") {
    throw new GatewayError("misconfigured", { detail: "the GitHub API URL is not http(s)" });
  }
  return base;
}

async function send(options: GitHubRequestOptions, url: URL, what: string): Promise<Response> {
  try {
    return await fetch(url.href, {
      method: "GET",
      headers: {
        authorization: `Bearer ${options.accessToken}`,
        accept: "application/vnd.github+json",
        "x-github-api-version": GITHUB_API_VERSION,
        // GitHub refuses requests without a User-Agent (403).
        "user-agent": "portcullis",
      },
      // A redirect could lead the token elsewhere; the endpoints read here never redirect.
      redirect: "manual",
      signal: (options.signal ?? (() => AbortSignal.timeout(DEFAULT_TIMEOUT_MS)))(),
    });
  } catch (error) {
    // fetch rejects only when no answer came: refused, reset, DNS, timeout.
    throw githubDown(`${what}: GitHub did not answer (${errorName(error)})`, error);
  }
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : "unknown";
}

/** GitHub's rate limits: 429, or 403 with no requests left (the REST docs name both). */
function rateLimited(response: Response): boolean {
  return response.status === 429 || (response.status === 403 && response.headers.get("x-ratelimit-remaining") === "0");
}

function retryAfterOf(response: Response): number {
  const seconds = Number(response.headers.get("retry-after"));
  return Number.isInteger(seconds) && seconds >= 1 && seconds <= MAX_RETRY_AFTER_SECONDS
    ? seconds
    : GITHUB_RETRY_AFTER_SECONDS;
}

/** The error for an answer that is not 200, or undefined for a list's 403/404 (a scope not granted). */
function failureOf(response: Response, what: string, list: boolean): GatewayError | undefined {
  const { status } = response;
  if (rateLimited(response)) return githubDown(`${what}: rate limited (${status})`, undefined, retryAfterOf(response));
  if (status >= 500) return githubDown(`${what}: GitHub answered ${status}`);
  if (status === 401) return loginRefused(`${what}: GitHub refused the access token (401)`);
  if (list && (status === 403 || status === 404)) return undefined;
  return loginRefused(`${what}: GitHub answered ${status}`);
}

async function readJson(response: Response, what: string): Promise<unknown> {
  const type = response.headers.get("content-type") ?? "";
  if (!/^application\/(?:[\w.+-]+\+)?json\b/i.test(type)) {
    await response.body?.cancel();
    throw loginRefused(`${what}: the answer is not JSON`);
  }
  const declared = Number(response.headers.get("content-length"));
  if (declared > MAX_BODY_BYTES) {
    await response.body?.cancel();
    throw loginRefused(`${what}: the answer is larger than ${MAX_BODY_BYTES} bytes`);
  }
  let text: string;
  try {
    text = await readCapped(response, what);
  } catch (error) {
    if (error instanceof GatewayError) throw error;
    throw githubDown(`${what}: the answer was cut off (${errorName(error)})`, error);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw loginRefused(`${what}: the answer is not valid JSON`, error);
  }
}

async function readCapped(response: Response, what: string): Promise<string> {
  const bytes = await readCappedBytes(response.body, MAX_BODY_BYTES);
  if (bytes === undefined) throw loginRefused(`${what}: the answer is larger than ${MAX_BODY_BYTES} bytes`);
  return new TextDecoder().decode(bytes);
}

/** GETs `{apiUrl}{path}` and returns its JSON; any answer but 200 throws. */
export async function getGitHubObject(options: GitHubRequestOptions, path: string): Promise<unknown> {
  const base = apiBase(options.apiUrl);
  const response = await send(options, new URL(`${base.href.replace(/\/$/, "")}${path}`), path);
  if (response.status !== 200) {
    await response.body?.cancel();
    throw failureOf(response, path, false) ?? loginRefused(`${path}: GitHub answered ${response.status}`);
  }
  return readJson(response, path);
}

/**
 * GETs every page of the list at `{apiUrl}{path}` (at most GITHUB_MAX_PAGES of 100), or
 * undefined when GitHub answers 403 or 404 (the token lacks the list's scope).
 */
export async function getGitHubList(options: GitHubRequestOptions, path: string): Promise<unknown[] | undefined> {
  const base = apiBase(options.apiUrl);
  let url: URL | undefined = new URL(`${base.href.replace(/\/$/, "")}${path}?per_page=${GITHUB_PAGE_SIZE}`);
  const items: unknown[] = [];
  for (let page = 0; url !== undefined && page < GITHUB_MAX_PAGES; page++) {
    const response = await send(options, url, path);
    if (response.status !== 200) {
      await response.body?.cancel();
      const failure = failureOf(response, path, true);
      if (failure === undefined) return undefined;
      throw failure;
    }
    const body = await readJson(response, path);
    if (!Array.isArray(body)) throw loginRefused(`${path}: the answer is not a list`);
    items.push(...body);
    url = nextPage(response.headers.get("link"), url, base, path);
  }
  if (url !== undefined) log.warn("github_list_cut_off", { list: path, pages: GITHUB_MAX_PAGES });
  return items;
}

/**
 * The `rel="next"` URL of a Link header (RFC 8288), only when it stays on the API's
 * origin and under its path: a next page anywhere else would receive the token. One that
 * does not is not followed (the list ends there) and logged, since it usually means the
 * API URL names the server by another host than the one it calls itself.
 */
function nextPage(header: string | null, current: URL, base: URL, path: string): URL | undefined {
  if (header === null) return undefined;
  for (const match of header.matchAll(/<([^>]*)>\s*((?:;\s*[^;,]*)*)/g)) {
    const rel = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))/i.exec(match[2] ?? "");
    const relations = (rel?.[1] ?? rel?.[2] ?? "").toLowerCase().split(/\s+/);
    if (!relations.includes("next")) continue;
    let next: URL;
    try {
      next = new URL(match[1] ?? "", current);
    } catch {
      throw loginRefused(`${path}: the next page's link is not a URL`);
    }
    const basePath = base.pathname.replace(/\/$/, "");
    if (next.origin !== base.origin || !next.pathname.startsWith(`${basePath}/`)) {
      log.warn("github_link_refused", { list: path, origin: next.origin });
      return undefined;
    }
    return next;
  }
  return undefined;
}
