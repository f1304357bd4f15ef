/**
 * The GitHub emulator's authorization endpoint (/login/oauth/authorize): checks the
 * request (a known client_id, a redirect_uri under the registered callback when one is
 * registered, S256-only PKCE), then either approves at once as the test's `approveAs`
 * user, or shows a tiny consent page (a login field, Authorize and Cancel) whose POST
 * approves or denies, for a browser test.
 */
import type http from "node:http";
import type { GitHubGrants } from "./github-emulator-grants";
import { readBody } from "./github-emulator-grants";

export interface AuthorizeSettings {
  /** Registered callback URLs by client id (undefined: any http(s) redirect_uri). */
  readonly clients: ReadonlyMap<string, string | undefined>;
  readonly users: Readonly<Record<string, unknown>>;
  readonly grants: GitHubGrants;
  /** The user approved at once, or undefined for the consent page. */
  approveAs(): string | undefined;
  /** Records each redirect_uri accepted. */
  accepted(redirectUri: string): void;
}

interface AuthorizationRequest {
  readonly clientId: string;
  readonly redirect: URL;
  readonly redirectUri: string;
  readonly state: string | undefined;
  readonly challenge: string | undefined;
  readonly scopes: readonly string[];
}

const AUTHORIZATION_ERRORS =
  "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/";
const FORWARDED = ["client_id", "redirect_uri", "state", "scope", "code_challenge", "code_challenge_method"];

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

export function sendPage(response: http.ServerResponse, status: number, title: string, body = ""): void {
  const heading = escapeHtml(title);
  response
    .writeHead(status, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" })
    .end(`<!doctype html><html><head><title>${heading}</title></head><body><h1>${heading}</h1>${body}</body></html>`);
}

/** Sends the browser back to `target` with an OAuth error, as GitHub does once the redirect is trusted. */
function redirectWithError(
  response: http.ServerResponse,
  target: URL,
  error: string,
  description: string,
  state?: string,
) {
  const location = new URL(target);
  location.searchParams.set("error", error);
  location.searchParams.set("error_description", description);
  location.searchParams.set("error_uri", `${AUTHORIZATION_ERRORS}#${error.replaceAll("_", "-")}`);
  if (state !== undefined) location.searchParams.set("state", state);
  response.writeHead(302, { location: location.href }).end();
}

/** The request's parameters, checked; or undefined when the refusal has been sent. */
function checked(
  settings: AuthorizeSettings,
  response: http.ServerResponse,
  parameters: URLSearchParams,
): AuthorizationRequest | undefined {
  const clientId = parameters.get("client_id") ?? "";
  if (!settings.clients.has(clientId)) return void sendPage(response, 404, "Not Found");
  const redirectUri = parameters.get("redirect_uri") ?? "";
  let redirect: URL;
  try {
    redirect = new URL(redirectUri);
  } catch {
    return void sendPage(response, 400, "The redirect_uri is missing or not a URL.");
  }
  if (redirect.protocol !== "http:" && redirect.protocol !== "https:") {
    return void sendPage(response, 400, "The redirect_uri is not http(s).");
  }
  const state = parameters.get("state") ?? undefined;
  const callbackUrl = settings.clients.get(clientId);
  if (callbackUrl !== undefined) {
    // GitHub: the same host and port, and the callback's path or one under it.
    const registered = new URL(callbackUrl);
    const under = `${registered.pathname.replace(/\/$/, "")}/`;
    const path = redirect.pathname;
    if (redirect.host !== registered.host || (path !== registered.pathname && !path.startsWith(under))) {
      const description = "The redirect_uri MUST match the registered callback URL for this application.";
      return void redirectWithError(response, registered, "redirect_uri_mismatch", description, state);
    }
  }
  const challenge = parameters.get("code_challenge") ?? undefined;
  const method = parameters.get("code_challenge_method") ?? undefined;
  if (challenge !== undefined || method !== undefined) {
    if (method !== "S256") return void sendPage(response, 400, "Only the S256 code_challenge_method is supported.");
    if (challenge === undefined || !/^[A-Za-z0-9_-]{43}$/.test(challenge)) {
      return void sendPage(response, 400, "The code_challenge is missing or malformed.");
    }
  }
  // Scopes may come space- or comma-separated.
  const scopes = [...new Set((parameters.get("scope") ?? "").split(/[\s,]+/).filter((scope) => scope !== ""))];
  return { clientId, redirect, redirectUri, state, challenge, scopes };
}

function approve(
  settings: AuthorizeSettings,
  response: http.ServerResponse,
  request: AuthorizationRequest,
  login: string,
) {
  settings.accepted(request.redirectUri);
  const { clientId, redirectUri, scopes, challenge } = request;
  const code = settings.grants.issueCode({ clientId, login, redirectUri, scopes, challenge });
  const location = new URL(request.redirect);
  location.searchParams.set("code", code);
  if (request.state !== undefined) location.searchParams.set("state", request.state);
  response.writeHead(302, { location: location.href }).end();
}

function consentPage(response: http.ServerResponse, parameters: URLSearchParams, message = "") {
  const hidden = [...parameters]
    .filter(([key]) => FORWARDED.includes(key))
    .map(([key, value]) => `<input type="hidden" name="${escapeHtml(key)}" value="${escapeHtml(value)}">`)
    .join("");
  const alert = message ? `<p role="alert">${escapeHtml(message)}</p>` : "";
  sendPage(
    response,
    200,
    "Authorize application",
    `${alert}<form method="post" action="/login/oauth/authorize">${hidden}` +
      `<label>Username or email address <input name="login" autocomplete="username"></label>` +
      `<button type="submit" name="decision" value="authorize">Authorize</button>` +
      `<button type="submit" name="decision" value="cancel">Cancel</button></form>`,
  );
}

/** GET (the redirect from the client) and POST (the consent page's form) /login/oauth/authorize. */
export async function answerAuthorize(
  settings: AuthorizeSettings,
  request: http.IncomingMessage,
  response: http.ServerResponse,
  url: URL,
): Promise<void> {
  if (request.method === "GET") {
    const authorization = checked(settings, response, url.searchParams);
    if (authorization === undefined) return;
    const login = settings.approveAs();
    if (login === undefined) return consentPage(response, url.searchParams);
    if (settings.users[login] === undefined) throw new Error(`approveAs names no user: ${login}`);
    return approve(settings, response, authorization, login);
  }
  if (request.method !== "POST") return sendPage(response, 404, "Not Found");
  const form = new URLSearchParams((await readBody(request)) ?? "");
  const authorization = checked(settings, response, form);
  if (authorization === undefined) return;
  if (form.get("decision") === "cancel") {
    const description = "The user has denied your application access.";
    return redirectWithError(response, authorization.redirect, "access_denied", description, authorization.state);
  }
  const login = form.get("login") ?? "";
  if (settings.users[login] === undefined) return consentPage(response, form, "Incorrect username or password.");
  approve(settings, response, authorization, login);
}
