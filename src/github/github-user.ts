/**
 * Who signed in with GitHub: the user's stable id, login and name, their verified primary
 * email, and the organisations and teams they belong to, read from GitHub's REST API with
 * the access token the login just obtained (GitHub's OAuth gives no ID token).
 *
 *   const user = await fetchGitHubUser({ apiUrl: "https://api.github.com", accessToken, teams: true });
 *   user.id      // 1001: the subject (a login can be renamed, and then registered by someone else)
 *   user.orgs    // ["acme"]; user.teams  // ["acme/platform"]
 *
 * Every shape is checked strictly: a malformed answer refuses the login (`login_failed`)
 * rather than letting a guessed value through. What each status means is in github-api.ts.
 *
 * Lower layer: imports only errors and log (through github-api.ts).
 */
import { type GitHubRequestOptions, getGitHubList, getGitHubObject, loginRefused } from "./github-api";

export interface GitHubUser {
  /** The stable numeric id; never use `login` as the subject (logins can be renamed and re-registered). */
  readonly id: number;
  readonly login: string;
  readonly name: string | undefined;
  /** The primary email, only when GitHub says it is verified; else undefined. */
  readonly email: string | undefined;
  /** Organisation logins the user is a member of (lower-cased). */
  readonly orgs: readonly string[];
  /** Teams as "org/team-slug" (lower-cased). */
  readonly teams: readonly string[];
}

export interface GitHubApiOptions extends GitHubRequestOptions {
  /** "https://api.github.com", or "<ghes>/api/v3"; no trailing slash. */
  readonly apiUrl: string;
  readonly accessToken: string;
  /** Also read /user/teams (needs the read:org scope). */
  readonly teams: boolean;
  /** A fresh signal per request (a timeout); default 5 s. */
  readonly signal?: () => AbortSignal;
}

/**
 * GitHub's login syntax: letters, digits and hyphens, not starting with a hyphen; plus the
 * underscore that Enterprise Managed Users' logins carry (`handle_shortcode`). Longer than
 * github.com's 39 characters for the same reason.
 */
const LOGIN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/;
/** A team's slug: its name lower-cased with spaces and punctuation made hyphens. */
const TEAM_SLUG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$/;
/** An address GitHub accepted: one @, no spaces or control characters, at most 320 characters. */
const EMAIL = /^[^\s@\p{Cc}]+@[^\s@\p{Cc}]+$/u;
const MAX_NAME_LENGTH = 255;
const MAX_EMAIL_LENGTH = 320;

/**
 * Reads the signed-in user from GitHub: /user, /user/emails, /user/orgs and, when
 * `teams`, /user/teams, in parallel.
 *
 * Throws GatewayError `idp_unavailable` (retryAfter 5) when GitHub cannot be reached,
 * times out, is rate limited or answers 5xx; `login_failed` when it refuses the token
 * (401) or answers something malformed. A token without user:email gives no email, one
 * without read:org gives no private memberships and no teams: neither is an error.
 */
export async function fetchGitHubUser(options: GitHubApiOptions): Promise<GitHubUser> {
  const answers = await Promise.allSettled([
    getGitHubObject(options, "/user"),
    getGitHubList(options, "/user/emails"),
    getGitHubList(options, "/user/orgs"),
    options.teams ? getGitHubList(options, "/user/teams") : Promise.resolve(undefined),
  ]);
  // /user's failure says most (a refused token, an outage), so it is the one thrown first.
  for (const answer of answers) if (answer.status === "rejected") throw answer.reason;
  const [profile, emails, orgs, teams] = answers.map((answer) => (answer as PromiseFulfilledResult<unknown>).value);
  const { id, login, name } = userOf(profile);
  return Object.freeze({
    id,
    login,
    name,
    email: emails === undefined ? undefined : verifiedPrimaryEmail(emails as unknown[]),
    orgs: Object.freeze(orgs === undefined ? [] : orgLogins(orgs as unknown[])),
    teams: Object.freeze(teams === undefined ? [] : teamNames(teams as unknown[])),
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isId(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0;
}

function isLogin(value: unknown): value is string {
  return typeof value === "string" && LOGIN.test(value);
}

function userOf(body: unknown): Pick<GitHubUser, "id" | "login" | "name"> {
  if (!isRecord(body)) throw loginRefused("/user: not an object");
  if (!isId(body.id)) throw loginRefused("/user: id is not a positive integer");
  if (!isLogin(body.login)) throw loginRefused("/user: login is not a GitHub login");
  const { name } = body;
  if (name !== null && name !== undefined && (typeof name !== "string" || name.length > MAX_NAME_LENGTH)) {
    throw loginRefused("/user: name is not a string");
  }
  return { id: body.id, login: body.login, name: typeof name === "string" && name.trim() !== "" ? name : undefined };
}

/** The primary address when it is verified; an unverified one is never used (anyone can add any address). */
function verifiedPrimaryEmail(entries: readonly unknown[]): string | undefined {
  let primary: { email: string; verified: boolean } | undefined;
  for (const entry of entries) {
    if (!isRecord(entry) || typeof entry.primary !== "boolean" || typeof entry.verified !== "boolean") {
      throw loginRefused("/user/emails: an entry is malformed");
    }
    const { email } = entry;
    if (typeof email !== "string" || email.length > MAX_EMAIL_LENGTH || !EMAIL.test(email)) {
      throw loginRefused("/user/emails: an entry's email is not an address");
    }
    if (!entry.primary) continue;
    if (primary !== undefined) throw loginRefused("/user/emails: more than one primary address");
    primary = { email, verified: entry.verified };
  }
  return primary?.verified ? primary.email : undefined;
}

function orgLogins(entries: readonly unknown[]): string[] {
  const logins = new Set<string>();
  for (const entry of entries) {
    if (!isRecord(entry) || !isId(entry.id) || !isLogin(entry.login)) {
      throw loginRefused("/user/orgs: an entry is malformed");
    }
    logins.add(entry.login.toLowerCase());
  }
  return [...logins];
}

function teamNames(entries: readonly unknown[]): string[] {
  const names = new Set<string>();
  for (const entry of entries) {
    if (!isRecord(entry) || typeof entry.slug !== "string" || !TEAM_SLUG.test(entry.slug)) {
      throw loginRefused("/user/teams: an entry's slug is malformed");
    }
    const organization = entry.organization;
    if (!isRecord(organization) || !isLogin(organization.login)) {
      throw loginRefused("/user/teams: an entry's organization is malformed");
    }
    names.add(`${organization.login}/${entry.slug}`.toLowerCase());
  }
  return [...names];
}
