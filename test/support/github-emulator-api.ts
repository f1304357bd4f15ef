/**
 * The REST half of the GitHub emulator (test/support/github-emulator.ts): /user,
 * /user/emails, /user/orgs and /user/teams under /api/v3, answering as GitHub does where a
 * client can tell: 401 `Requires authentication` / `Bad credentials`, 403 without a
 * User-Agent, `X-OAuth-Scopes` on every authenticated answer, 404 for a list the token's
 * scopes do not reach, and page-number pagination with GitHub's `Link` header.
 */
import type http from "node:http";

export interface GitHubEmailSpec {
  readonly email: string;
  readonly primary?: boolean;
  readonly verified?: boolean;
}

export interface GitHubUserSpec {
  readonly id: number;
  readonly name?: string | null;
  /** The public profile email, shown in /user's `email`. */
  readonly email?: string | null;
  readonly emails?: readonly GitHubEmailSpec[];
  /** A string is a private membership (seen only with read:org); `{ public: true }` is listed to anyone. */
  readonly orgs?: readonly (string | { readonly login: string; readonly public?: boolean })[];
  readonly teams?: readonly { readonly org: string; readonly slug: string; readonly name?: string }[];
}

/** What the API needs of the emulator: who a token belongs to, and where pages link to. */
export interface ApiContext {
  readonly users: Readonly<Record<string, GitHubUserSpec>>;
  /** The login and scopes of a live token; undefined when unknown, expired or revoked. */
  tokenOwner(token: string): { readonly login: string; readonly scopes: readonly string[] } | undefined;
  /** The origin pagination links name (the emulator's own, unless a test sets another). */
  readonly linkOrigin: string;
}

export const API_PREFIX = "/api/v3";
const DOCS = "https://docs.github.com/rest";
const DEFAULT_PAGE_SIZE = 30;
const MAX_PAGE_SIZE = 100;

type Row = Record<string, unknown>;

function sendJson(
  response: http.ServerResponse,
  status: number,
  body: unknown,
  headers: http.OutgoingHttpHeaders = {},
) {
  response
    .writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers })
    .end(JSON.stringify(body));
}

/** GitHub's implied scopes: `user` covers user:email, the org admin scopes cover read:org. */
function grants(scopes: readonly string[], needed: "user:email" | "read:org"): boolean {
  if (needed === "user:email") return scopes.includes("user:email") || scopes.includes("user");
  return ["read:org", "write:org", "admin:org"].some((scope) => scopes.includes(scope));
}

function nodeId(kind: string, id: number): string {
  return Buffer.from(`0${kind.length}:${kind}${id}`).toString("base64");
}

/** A stable made-up id for an organisation or team name. */
function idOf(name: string, offset: number): number {
  let hash = 0;
  for (const character of name.toLowerCase()) hash = (hash * 31 + character.charCodeAt(0)) % 1_000_000;
  return offset + hash;
}

function organization(origin: string, login: string): Row {
  const id = idOf(login, 5_000_000);
  return {
    login,
    id,
    node_id: nodeId("Organization", id),
    url: `${origin}${API_PREFIX}/orgs/${login}`,
    avatar_url: `${origin}/avatars/${login}`,
    description: null,
  };
}

function userBody(origin: string, login: string, spec: GitHubUserSpec): Row {
  return {
    login,
    id: spec.id,
    node_id: nodeId("User", spec.id),
    avatar_url: `${origin}/avatars/${login}`,
    url: `${origin}${API_PREFIX}/users/${login}`,
    html_url: `${origin}/${login}`,
    type: "User",
    site_admin: false,
    name: spec.name ?? null,
    email: spec.email ?? null,
  };
}

function listOf(origin: string, path: string, login: string, spec: GitHubUserSpec, scopes: readonly string[]) {
  switch (path) {
    case "/user/emails":
      if (!grants(scopes, "user:email")) return undefined;
      return (spec.emails ?? []).map((entry) => ({
        email: entry.email,
        primary: entry.primary ?? false,
        verified: entry.verified ?? false,
        visibility: entry.primary ? "private" : null,
      }));
    case "/user/orgs": {
      const all = (spec.orgs ?? []).map((entry) => (typeof entry === "string" ? { login: entry } : entry));
      const visible = grants(scopes, "read:org") ? all : all.filter((entry) => "public" in entry && entry.public);
      return visible.map((entry) => organization(origin, entry.login));
    }
    case "/user/teams":
      if (!grants(scopes, "read:org")) return undefined;
      return (spec.teams ?? []).map((team) => {
        const id = idOf(`${team.org}/${team.slug}`, 9_000_000);
        return {
          id,
          node_id: nodeId("Team", id),
          name: team.name ?? team.slug,
          slug: team.slug,
          description: null,
          privacy: "closed",
          permission: "pull",
          members_count: 1,
          organization: organization(origin, team.org),
        };
      });
    default:
      throw new Error(`no list at ${path} for ${login}`);
  }
}

/** A positive integer query parameter, or the fallback (GitHub ignores nonsense). */
function positive(value: string | null, fallback: number): number {
  const number = Number(value);
  return value !== null && Number.isInteger(number) && number >= 1 ? number : fallback;
}

/** One page of `rows`, with GitHub's Link header (prev, next, last, first, as github.com orders them). */
function sendPage(
  response: http.ServerResponse,
  url: URL,
  linkOrigin: string,
  rows: readonly unknown[],
  headers: http.OutgoingHttpHeaders,
) {
  const perPage = Math.min(positive(url.searchParams.get("per_page"), DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE);
  const page = positive(url.searchParams.get("page"), 1);
  const last = Math.max(1, Math.ceil(rows.length / perPage));
  const link = (n: number, rel: string) => `<${linkOrigin}${url.pathname}?per_page=${perPage}&page=${n}>; rel="${rel}"`;
  const links: string[] = [];
  if (page > 1) links.push(link(Math.min(page - 1, last), "prev"));
  if (page < last) links.push(link(page + 1, "next"), link(last, "last"));
  if (page > 1) links.push(link(1, "first"));
  sendJson(response, 200, rows.slice((page - 1) * perPage, page * perPage), {
    ...headers,
    ...(links.length > 0 ? { link: links.join(", ") } : {}),
  });
}

/** The bearer (or `token`) credential of the Authorization header. */
function credentialOf(header: string | undefined): string | undefined {
  const match = /^(?:bearer|token)\s+(\S+)\s*$/i.exec(header ?? "");
  return match?.[1];
}

/** Answers a request under /api/v3. */
export function answerApi(context: ApiContext, request: http.IncomingMessage, response: http.ServerResponse, url: URL) {
  if (!request.headers["user-agent"]) {
    response
      .writeHead(403, { "content-type": "text/plain; charset=utf-8" })
      .end(
        "Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required).\n",
      );
    return;
  }
  const path = url.pathname.slice(API_PREFIX.length);
  const known = ["/user", "/user/emails", "/user/orgs", "/user/teams"].includes(path);
  if (!known || (request.method !== "GET" && request.method !== "HEAD")) {
    return sendJson(response, 404, { message: "Not Found", documentation_url: DOCS, status: "404" });
  }
  const token = credentialOf(request.headers.authorization);
  if (token === undefined) {
    return sendJson(response, 401, { message: "Requires authentication", documentation_url: DOCS, status: "401" });
  }
  const owner = context.tokenOwner(token);
  const spec = owner === undefined ? undefined : context.users[owner.login];
  if (owner === undefined || spec === undefined) {
    return sendJson(response, 401, { message: "Bad credentials", documentation_url: DOCS, status: "401" });
  }
  const origin = `http://${request.headers.host ?? "127.0.0.1"}`;
  const headers = {
    "x-oauth-scopes": owner.scopes.join(", "),
    "x-accepted-oauth-scopes": path === "/user/emails" ? "user, user:email" : path === "/user" ? "" : "read:org",
    "x-github-api-version-selected": "2022-11-28",
  };
  if (path === "/user") return sendJson(response, 200, userBody(origin, owner.login, spec), headers);
  const rows = listOf(origin, path, owner.login, spec, owner.scopes);
  if (rows === undefined) {
    return sendJson(response, 404, { message: "Not Found", documentation_url: DOCS, status: "404" }, headers);
  }
  sendPage(response, url, context.linkOrigin, rows, headers);
}
