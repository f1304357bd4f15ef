/**
 * fetchGitHubUser against the GitHub emulator (test/support/github-emulator.ts) on
 * 127.0.0.1: no fetch is mocked, so the headers, pagination links, statuses and bodies
 * are read as they would be from GitHub. Tokens come from the emulator's own OAuth flow.
 */
import { createHash, randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { GatewayError } from "../../src/errors/gateway-error";
import { fetchGitHubUser, type GitHubApiOptions } from "../../src/github/github-user";
import { type GitHubEmulator, startGitHubEmulator } from "../support/github-emulator";
import { type LoopbackServer, loopbackServer } from "../support/loopback-server";

const CLIENT_ID = "gh-client";
const CLIENT_SECRET = randomBytes(20).toString("hex");
const REDIRECT_URI = "https://gateway.test/auth/github/callback";
const ALL_SCOPES = "read:user user:email read:org";

const numbered = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}-${i + 1}`);

let github: GitHubEmulator;
/** Another origin, counting what reaches it: a Link to it must never be followed. */
let elsewhere: LoopbackServer;
let elsewhereRequests = 0;

beforeAll(async () => {
  github = await startGitHubEmulator({
    clients: [{ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET }],
    users: {
      alice: {
        id: 1001,
        name: "Alice",
        emails: [
          { email: "alice@old.test", primary: false, verified: true },
          { email: "alice@acme.test", primary: true, verified: true },
        ],
        orgs: ["Acme", { login: "open-source", public: true }],
        teams: [
          { org: "Acme", slug: "platform" },
          { org: "acme", slug: "Security" },
        ],
      },
      bob: { id: 1002, orgs: numbered("org", 150) },
      carol: { id: 1003, orgs: numbered("org", 1050) },
      dave: {
        id: 1004,
        name: null,
        emails: [
          { email: "dave@unverified.test", primary: true, verified: false },
          { email: "dave@verified.test", primary: false, verified: true },
        ],
      },
    },
  });
  elsewhere = await loopbackServer((_request, response) => {
    elsewhereRequests++;
    response.writeHead(200, { "content-type": "application/json" }).end("[]");
  });
});

afterAll(async () => {
  await github.close();
  await elsewhere.stop();
});

afterEach(async () => {
  github.delayMs = 0;
  github.linkOrigin = github.origin;
  for (const path of ["/api/v3/user", "/api/v3/user/emails", "/api/v3/user/orgs", "/api/v3/user/teams"]) {
    github.forceAnswer(path, undefined);
  }
  await github.up();
});

/** An access token for `login` from the emulator's authorization code flow, with PKCE. */
async function tokenFor(login: string, scope = ALL_SCOPES): Promise<string> {
  github.approveAs = login;
  const verifier = randomBytes(32).toString("base64url");
  const authorize = new URL(github.authorizeUrl);
  authorize.search = new URLSearchParams({
    client_id: CLIENT_ID,
    redirect_uri: REDIRECT_URI,
    state: "a-state",
    scope,
    code_challenge: createHash("sha256").update(verifier).digest("base64url"),
    code_challenge_method: "S256",
  }).toString();
  const redirect = await fetch(authorize, { redirect: "manual" });
  expect(redirect.status).toBe(302);
  const callback = new URL(redirect.headers.get("location") ?? "");
  expect(callback.searchParams.get("state")).toBe("a-state");
  const answer = await fetch(github.tokenUrl, {
    method: "POST",
    headers: { accept: "application/json", "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      code: callback.searchParams.get("code") ?? "",
      redirect_uri: REDIRECT_URI,
      code_verifier: verifier,
    }),
  });
  const body = (await answer.json()) as { access_token?: string; scope?: string };
  if (typeof body.access_token !== "string") throw new Error(`no token: ${JSON.stringify(body)}`);
  return body.access_token;
}

function options(accessToken: string, extra: Partial<GitHubApiOptions> = {}): GitHubApiOptions {
  return { apiUrl: github.apiUrl, accessToken, teams: true, ...extra };
}

/** The GatewayError a call threw (fails the test when it did not throw one). */
async function failureOf(promise: Promise<unknown>): Promise<GatewayError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof GatewayError) return error;
    throw error;
  }
  throw new Error("expected a GatewayError, got an answer");
}

const apiRequests = (path: string) => github.requests.filter((request) => request.path === `/api/v3${path}`);

describe("fetchGitHubUser", () => {
  it("reads the id, login, name, verified primary email, and the orgs and teams lower-cased", async () => {
    const token = await tokenFor("alice");
    const before = github.requests.length;
    const user = await fetchGitHubUser(options(token));
    expect(user).toEqual({
      id: 1001,
      login: "alice",
      name: "Alice",
      email: "alice@acme.test",
      orgs: ["acme", "open-source"],
      teams: ["acme/platform", "acme/security"],
    });
    expect(Object.isFrozen(user)).toBe(true);
    const seen = github.requests.slice(before);
    expect(seen.map((request) => request.path).sort()).toEqual(
      ["/api/v3/user", "/api/v3/user/emails", "/api/v3/user/orgs", "/api/v3/user/teams"].sort(),
    );
    expect(seen.every((request) => request.authorization)).toBe(true);
    expect(seen.filter((request) => request.path !== "/api/v3/user").every((r) => r.query === "?per_page=100")).toBe(
      true,
    );
  });

  it("does not read /user/teams unless asked to", async () => {
    const token = await tokenFor("alice");
    const before = apiRequests("/user/teams").length;
    const user = await fetchGitHubUser(options(token, { teams: false }));
    expect(user.teams).toEqual([]);
    expect(apiRequests("/user/teams").length).toBe(before);
  });

  it("follows the Link header's next page: 150 orgs in two requests", async () => {
    const token = await tokenFor("bob");
    const before = apiRequests("/user/orgs").length;
    const user = await fetchGitHubUser(options(token));
    expect(user.orgs).toHaveLength(150);
    expect(user.orgs).toContain("org-150");
    expect(
      apiRequests("/user/orgs")
        .slice(before)
        .map((request) => request.query),
    ).toEqual(["?per_page=100", "?per_page=100&page=2"]);
  });

  it("reads at most 10 pages of a list: a member of 1050 orgs keeps the first 1000", async () => {
    const token = await tokenFor("carol");
    const before = apiRequests("/user/orgs").length;
    const user = await fetchGitHubUser(options(token));
    expect(user.orgs).toHaveLength(1000);
    expect(user.orgs).not.toContain("org-1001");
    expect(apiRequests("/user/orgs").length - before).toBe(10);
  });

  it("never follows a Link to another origin (it would send the token there): the list ends", async () => {
    const token = await tokenFor("bob");
    github.linkOrigin = elsewhere.origin;
    const user = await fetchGitHubUser(options(token));
    expect(user.orgs).toHaveLength(100);
    expect(elsewhereRequests).toBe(0);
  });

  it("without user:email gives no email, and without read:org only public orgs and no teams, not an error", async () => {
    const token = await tokenFor("alice", "read:user");
    const user = await fetchGitHubUser(options(token));
    expect(user).toMatchObject({ id: 1001, email: undefined, orgs: ["open-source"], teams: [] });
  });

  it("takes the broad `user` scope as covering the emails", async () => {
    const token = await tokenFor("alice", "user");
    expect((await fetchGitHubUser(options(token))).email).toBe("alice@acme.test");
  });

  it("gives no email when the primary address is unverified, even with a verified secondary", async () => {
    const token = await tokenFor("dave");
    const user = await fetchGitHubUser(options(token));
    expect(user).toMatchObject({ id: 1004, login: "dave", name: undefined, email: undefined, orgs: [] });
  });

  it("refuses a token GitHub answers 401 for (login_failed), without the token in the detail", async () => {
    const token = await tokenFor("dave");
    github.revokeTokens("dave");
    const error = await failureOf(fetchGitHubUser(options(token)));
    expect(error.code).toBe("login_failed");
    expect(error.detail).toMatch(/401/);
    expect(`${error.message} ${error.detail}`).not.toContain(token);
  });

  it("fails as idp_unavailable (retry after 5 s) when GitHub answers 503", async () => {
    const token = await tokenFor("alice");
    await github.down("503");
    const error = await failureOf(fetchGitHubUser(options(token)));
    expect(error.code).toBe("idp_unavailable");
    expect(error.retryAfter).toBe(5);
    expect(`${error.message} ${error.detail}`).not.toContain(token);
  });

  it("fails as idp_unavailable when GitHub refuses the connection", async () => {
    const token = await tokenFor("alice");
    await github.down("refused");
    const error = await failureOf(fetchGitHubUser(options(token)));
    expect(error.code).toBe("idp_unavailable");
    expect(error.retryAfter).toBe(5);
  });

  it("fails as idp_unavailable when GitHub does not answer in time", async () => {
    const token = await tokenFor("alice");
    github.delayMs = 2_000;
    const error = await failureOf(fetchGitHubUser(options(token, { signal: () => AbortSignal.timeout(50) })));
    expect(error.code).toBe("idp_unavailable");
  });

  it("fails as idp_unavailable when a list answers 5xx, rather than reading it as empty", async () => {
    const token = await tokenFor("alice");
    github.forceAnswer("/api/v3/user/orgs", { status: 502, body: "{}" });
    expect((await failureOf(fetchGitHubUser(options(token)))).code).toBe("idp_unavailable");
  });

  it("passes on a rate limit's Retry-After as idp_unavailable", async () => {
    const token = await tokenFor("alice");
    github.forceAnswer("/api/v3/user", {
      status: 403,
      body: JSON.stringify({ message: "API rate limit exceeded" }),
      headers: { "x-ratelimit-remaining": "0", "retry-after": "60" },
    });
    const error = await failureOf(fetchGitHubUser(options(token)));
    expect(error.code).toBe("idp_unavailable");
    expect(error.retryAfter).toBe(60);
  });

  it.each([
    ["/user is not JSON", "/api/v3/user", "{not json"],
    ["/user's id is a string", "/api/v3/user", JSON.stringify({ id: "1001", login: "alice", name: null })],
    ["/user's id is not a safe integer", "/api/v3/user", JSON.stringify({ id: 2 ** 53, login: "alice" })],
    ["/user's id is zero", "/api/v3/user", JSON.stringify({ id: 0, login: "alice" })],
    ["/user's login is not a login", "/api/v3/user", JSON.stringify({ id: 1001, login: "alice/../admin" })],
    ["/user is a list", "/api/v3/user", JSON.stringify([{ id: 1001, login: "alice" }])],
    [
      "/user/emails has two primaries",
      "/api/v3/user/emails",
      JSON.stringify([
        { email: "a@acme.test", primary: true, verified: true },
        { email: "b@acme.test", primary: true, verified: true },
      ]),
    ],
    ["an email entry lacks verified", "/api/v3/user/emails", JSON.stringify([{ email: "a@acme.test", primary: true }])],
    ["/user/orgs is an object", "/api/v3/user/orgs", JSON.stringify({ login: "acme", id: 1 })],
    ["an org's login has a slash", "/api/v3/user/orgs", JSON.stringify([{ login: "acme/x", id: 1 }])],
    ["a team has no organization", "/api/v3/user/teams", JSON.stringify([{ slug: "platform" }])],
    [
      "a team's slug has a slash",
      "/api/v3/user/teams",
      JSON.stringify([{ slug: "a/b", organization: { login: "acme" } }]),
    ],
  ])("refuses a malformed answer (%s) as login_failed", async (_name, path, body) => {
    const token = await tokenFor("alice");
    github.forceAnswer(path, { body });
    expect((await failureOf(fetchGitHubUser(options(token)))).code).toBe("login_failed");
  });

  it("refuses an answer that is not JSON at all (an HTML error page) as login_failed", async () => {
    const token = await tokenFor("alice");
    github.forceAnswer("/api/v3/user", { body: "<html></html>", headers: { "content-type": "text/html" } });
    expect((await failureOf(fetchGitHubUser(options(token)))).code).toBe("login_failed");
  });
});
