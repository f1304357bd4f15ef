/**
 * Trusted issuers (TRUSTED_ISSUERS) through the bundled Worker: two local issuers on
 * 127.0.0.1, each with its own JWKS, and the gateway's own tokens beside them.
 *
 * - "github-actions": a GitHub Actions-shaped issuer. Its real `iss`
 *   (https://token.actions.githubusercontent.com) is configured exactly; its keys come from
 *   a local JWKS (development mode allows http), RS256 with `x5t` in the header, as GitHub's.
 * - "cluster": a Kubernetes service-account-shaped issuer (ES256, `kubernetes.io` claims),
 *   with `max_token_age`.
 *
 * UPSTREAM_ASSERTION is on, so the upstream's view of a CI caller includes the assertion.
 *
 * A token of an issuer is accepted on the routes that name it and refused (401
 * invalid_token) everywhere else; no token is ever verified with another issuer's keys.
 */
import { type JWTPayload, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AUDIENCE, type Gateway, startGateway } from "../support/gateway";
import { type JwksServer, startJwksServer } from "../support/jwks-server";
import { makeKey, TEST_SECRETS, type TestKey } from "../support/test-keys";
import { decodeClaims, mintToken } from "../support/tokens";
import { startUpstream, type TestUpstream } from "../support/upstream";

const GITHUB_ISSUER = "https://token.actions.githubusercontent.com";
const GITHUB_AUDIENCE = "https://api.example.test";
const CLUSTER_ISSUER = "https://kubernetes.default.svc.cluster.local";
const CLUSTER_AUDIENCE = "portcullis-test";
const MAIN_SUBJECT = "repo:acme/api:ref:refs/heads/main";

let upstream: TestUpstream;
let gateway: Gateway;
let githubKeys: JwksServer;
let clusterKeys: JwksServer;
let github: TestKey;
let cluster: TestKey;

beforeAll(async () => {
  [upstream, github, cluster] = await Promise.all([
    startUpstream(),
    makeKey("RS256", "gha-1"),
    makeKey("ES256", "k8s-1"),
  ]);
  [githubKeys, clusterKeys] = await Promise.all([
    startJwksServer([github.publicJwk]),
    startJwksServer([cluster.publicJwk]),
  ]);
  gateway = await startGateway({
    upstream,
    vars: {
      PORTCULLIS_ENV: "development",
      // HS256 is accepted for the gateway's own tokens: a trusted issuer's must never be.
      ACCESS_SECRET: TEST_SECRETS.ACCESS_SECRET,
      UPSTREAM_ASSERTION: "true",
      TRUSTED_ISSUERS: JSON.stringify([
        {
          id: "github-actions",
          issuer: GITHUB_ISSUER,
          jwks_url: githubKeys.url,
          audience: GITHUB_AUDIENCE,
          algorithms: ["RS256"],
          subject_prefix: "gha|",
        },
        {
          id: "cluster",
          issuer: CLUSTER_ISSUER,
          jwks_url: clusterKeys.url,
          audience: [CLUSTER_AUDIENCE],
          max_token_age: 3600,
        },
      ]),
      ROUTES: JSON.stringify([
        { path: "/health", public: true },
        {
          path: "/deploy/*",
          issuers: ["github-actions"],
          require: {
            all: [
              { claim: "repository", equals: "acme/api" },
              { claim: "ref", equals: "refs/heads/main" },
            ],
          },
        },
        { path: "/ci/*", issuers: ["self", "github-actions"] },
        {
          path: "/internal/*",
          issuers: ["cluster"],
          require: { claim: ["kubernetes.io", "namespace"], equals: "prod" },
        },
      ]),
    },
  });
});

afterAll(async () => {
  await gateway?.close();
  await Promise.all([githubKeys?.close(), clusterKeys?.close(), upstream?.close()]);
});

/** A GitHub Actions OIDC token's claims, as GitHub documents them (a push to main of acme/api). */
function githubClaims(overrides: JWTPayload = {}): JWTPayload {
  return {
    iss: GITHUB_ISSUER,
    aud: GITHUB_AUDIENCE,
    sub: MAIN_SUBJECT,
    jti: crypto.randomUUID(),
    ref: "refs/heads/main",
    ref_type: "branch",
    sha: "3fbd2f0cb1c3b4c9a0a6f3e3e9e6f1d8a3c2b1a0",
    repository: "acme/api",
    repository_owner: "acme",
    repository_visibility: "private",
    run_id: "6789012345",
    run_attempt: "1",
    actor: "octocat",
    event_name: "push",
    workflow: "deploy",
    job_workflow_ref: "acme/api/.github/workflows/deploy.yml@refs/heads/main",
    runner_environment: "github-hosted",
    sid: undefined,
    scope: undefined,
    ...overrides,
  };
}

/** Signed by `key` (default: GitHub's), with GitHub's header shape (typ JWT, x5t). */
function githubToken(
  claims: JWTPayload = {},
  key: TestKey = github,
  options: { iatOffset?: number; ttl?: number } = {},
) {
  return mintToken(key, {
    claims: githubClaims(claims),
    header: { typ: "JWT", x5t: "cXVpdGUtYS10aHVtYnByaW50" },
    ...options,
  });
}

function clusterToken(claims: JWTPayload = {}, options: { iatOffset?: number; ttl?: number } = {}) {
  return mintToken(cluster, {
    claims: {
      iss: CLUSTER_ISSUER,
      aud: [CLUSTER_AUDIENCE],
      sub: "system:serviceaccount:prod:deployer",
      "kubernetes.io": { namespace: "prod", serviceaccount: { name: "deployer", uid: crypto.randomUUID() } },
      sid: undefined,
      scope: undefined,
      ...claims,
    },
    header: { typ: undefined },
    ...options,
  });
}

/** Calls `path` with the token; says how many requests reached the upstream meanwhile. */
async function call(path: string, token: string): Promise<{ response: Response; forwarded: number }> {
  const before = upstream.proxied().length;
  const response = await gateway.fetch(path, { headers: { authorization: `Bearer ${token}` } });
  await response.text();
  return { response, forwarded: upstream.proxied().length - before };
}

async function expectRefused(path: string, token: string, status = 401): Promise<Response> {
  const { response, forwarded } = await call(path, token);
  expect(response.status).toBe(status);
  if (status === 401) expect(response.headers.get("www-authenticate")).toContain('error="invalid_token"');
  expect(forwarded).toBe(0);
  return response;
}

describe("a GitHub Actions token", () => {
  it("is accepted on its route when the route's conditions on repository and ref hold, under its prefixed subject", async () => {
    const { response, forwarded } = await call("/deploy/api", await githubToken());
    expect(response.status).toBe(200);
    expect(forwarded).toBe(1);
    const seen = upstream.proxied().at(-1)?.headers ?? {};
    expect(seen["x-auth-subject"]).toBe(`gha|${MAIN_SUBJECT}`);
    expect(seen["x-auth-issuer"]).toBe("github-actions");
    expect(seen["x-auth-session"]).toBeUndefined();
    expect(seen["x-auth-scopes"]).toBeUndefined();
    // The signed assertion names the issuer too.
    const assertion = decodeClaims(String(seen["portcullis-assertion"]));
    expect(assertion).toMatchObject({ sub: `gha|${MAIN_SUBJECT}`, token_issuer: "github-actions" });
    expect(assertion.sid).toBeUndefined();
  });

  it("is refused (403) on its route when the workflow ran for another ref or repository", async () => {
    await expectRefused("/deploy/api", await githubToken({ ref: "refs/heads/feature" }), 403);
    await expectRefused("/deploy/api", await githubToken({ repository: "acme/other" }), 403);
  });

  it("is accepted on a route naming both the gateway's own tokens and its issuer", async () => {
    expect((await call("/ci/status", await githubToken())).response.status).toBe(200);
  });

  it("is refused as invalid_token on routes that do not name its issuer, and nothing reaches the upstream", async () => {
    const token = await githubToken();
    await expectRefused("/api/me", token);
    await expectRefused("/internal/jobs", token);
    await expectRefused("/admin/stats", token);
    // Nor at the gateway's own endpoints for its users.
    expect((await gateway.fetch("/auth/sessions", { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
  });

  it("is refused when made for another audience", async () => {
    await expectRefused("/deploy/api", await githubToken({ aud: "https://other.example.test" }));
    await expectRefused("/deploy/api", await githubToken({ aud: AUDIENCE }));
  });

  it("is refused once expired, or when its lifetime or iat is out of bounds", async () => {
    await expectRefused("/deploy/api", await githubToken({}, github, { iatOffset: -600, ttl: 300 }));
    await expectRefused("/deploy/api", await githubToken({}, github, { iatOffset: 120, ttl: 300 }));
  });
});

describe("mix-up between issuers", () => {
  it("refuses a token claiming GitHub's iss signed by the cluster's key, with either's kid", async () => {
    await expectRefused("/deploy/api", await githubToken({}, cluster));
    const forged = await new SignJWT(githubClaims())
      .setProtectedHeader({ alg: "ES256", typ: "JWT", kid: "gha-1" })
      .setIssuedAt()
      .setExpirationTime("5m")
      .sign(cluster.privateKey);
    await expectRefused("/deploy/api", forged);
  });

  it("refuses a token claiming GitHub's iss signed with the gateway's own key or its HS256 secret", async () => {
    await expectRefused("/deploy/api", await githubToken({}, gateway.key));
    const hs256 = await new SignJWT(githubClaims())
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setIssuedAt()
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode(TEST_SECRETS.ACCESS_SECRET));
    await expectRefused("/deploy/api", hs256);
  });

  it("refuses a token claiming the gateway's iss signed by a trusted issuer's key", async () => {
    await expectRefused("/ci/status", await mintToken(github));
  });

  it("refuses alg none and an iss nobody configured", async () => {
    const header = Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url");
    const payload = Buffer.from(JSON.stringify({ ...githubClaims(), iat: 1, exp: 4_102_444_800 })).toString(
      "base64url",
    );
    await expectRefused("/deploy/api", `${header}.${payload}.`);
    await expectRefused("/deploy/api", `${header}.${payload}.c2ln`);
    await expectRefused("/deploy/api", await githubToken({ iss: "https://token.actions.example.test" }));
  });
});

describe("a Kubernetes service-account token", () => {
  it("is accepted on its own route only, with its subject prefixed by the issuer's id", async () => {
    const token = await clusterToken();
    const { response } = await call("/internal/jobs", token);
    expect(response.status).toBe(200);
    const seen = upstream.proxied().at(-1)?.headers ?? {};
    expect(seen["x-auth-subject"]).toBe("cluster|system:serviceaccount:prod:deployer");
    expect(seen["x-auth-issuer"]).toBe("cluster");
    await expectRefused("/deploy/api", token);
    await expectRefused("/ci/status", token);
  });

  it("is refused (403) by the route's condition on its namespace", async () => {
    const dev = { namespace: "dev", serviceaccount: { name: "deployer", uid: crypto.randomUUID() } };
    await expectRefused("/internal/jobs", await clusterToken({ "kubernetes.io": dev }), 403);
  });

  it("is refused when older than the issuer's max_token_age", async () => {
    await expectRefused("/internal/jobs", await clusterToken({}, { iatOffset: -7200, ttl: 3 * 3600 }));
  });
});

describe("the gateway's own tokens", () => {
  it("keep today's routes, pass where a rule names self, and are refused where a rule names only other issuers", async () => {
    const own = await mintToken(gateway.key);
    expect((await call("/api/me", own)).response.status).toBe(200);
    expect((await call("/ci/status", own)).response.status).toBe(200);
    const seen = upstream.proxied().at(-1)?.headers ?? {};
    expect(seen["x-auth-issuer"]).toBeUndefined();
    expect(decodeClaims(String(seen["portcullis-assertion"])).token_issuer).toBeUndefined();
    await expectRefused("/deploy/api", own);
    await expectRefused("/internal/jobs", own);
  });
});

describe("revocation", () => {
  it("refuses a trusted issuer's tokens by their prefixed subject, and accepts ones issued after", async () => {
    const subject = "repo:acme/api:environment:production";
    const before = await githubToken({ sub: subject });
    expect((await call("/ci/status", before)).response.status).toBe(200);
    const revoked = await gateway.fetch("/auth/operator/revoke-subject", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${TEST_SECRETS.OPERATOR_TOKEN}` },
      body: JSON.stringify({ sub: `gha|${subject}` }),
    });
    expect(revoked.status).toBe(200);
    await expectRefused("/ci/status", before);
    // Another workflow's tokens are untouched; the same workflow's next run (a later iat) passes.
    expect((await call("/ci/status", await githubToken())).response.status).toBe(200);
    expect(
      (await call("/ci/status", await githubToken({ sub: subject }, github, { iatOffset: 2 }))).response.status,
    ).toBe(200);
  });

  it("revokes one such token by its jti at POST /auth/revoke", async () => {
    const token = await githubToken();
    expect((await call("/ci/status", token)).response.status).toBe(200);
    const answer = await gateway.fetch("/auth/revoke", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: gateway.url },
      body: new URLSearchParams({ token }),
    });
    expect(answer.status).toBe(200);
    await expectRefused("/ci/status", token);
  });
});
