/**
 * Portcullis as a user gets it from npm: the repository is packed, the tarball installed
 * into an empty folder outside it, and a small Hono Worker there (test/consumer/) that
 * uses portcullis/hono with its own wrangler.toml is type-checked against the installed
 * declarations, bundled by wrangler and run in miniflare. A browser module there that
 * imports portcullis/client and portcullis/client/axios is type-checked too, and so is a
 * Hono upstream using portcullis/assertion, which a plain `node` process there also runs.
 *
 * The signing key is made by the package's `portcullis-keygen`, and the package's
 * `portcullis` command checks the consumer's wrangler.toml and explains a request. The
 * install is offline: the dependencies come as tarballs of the repository's installed
 * copies; the toolchain (wrangler, tsc, miniflare) is the repository's, and wrangler is
 * linked into the consumer's node_modules, where a Workers project has its own.
 */
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { importJWK, type JWK } from "jose";
import { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import type { AccessTokenClaims } from "../../src/tokens/access-token-claims";
import { mintUpstreamAssertion } from "../../src/tokens/upstream-assertion";
import { ROOT } from "../support/build-worker";
import { setCookie } from "../support/session-helpers";
import type { TestKey } from "../support/test-keys";
import { decodeClaims, mintToken } from "../support/tokens";

const REFRESH_COOKIE = "__Host-portcullis-refresh";
const bin = (name: string) => path.join(ROOT, "node_modules/.bin", name);
const work = mkdtempSync(path.join(tmpdir(), "portcullis-consumer-"));
const run = (command: string, args: string[], cwd = work) =>
  execFileSync(command, args, {
    cwd,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", WRANGLER_LOG: "error", CI: "true" },
  });

let mf: Miniflare;
let url: string;
let key: TestKey;
/** The consumer's bundle in another miniflare, with bindings changed (the same code, another deployment). */
let variant: (bindings: Record<string, string>, options?: { ratelimits?: false }) => Promise<Miniflare>;
const variants: Miniflare[] = [];

beforeAll(async () => {
  const packed = JSON.parse(run("npm", ["pack", "--json", "--pack-destination", work], ROOT)) as [{ filename: string }];
  cpSync(path.join(ROOT, "test/consumer"), work, { recursive: true });
  // Offline and deterministic: the package's dependencies and required peers (hono and
  // jose, which depend on nothing) are given as tarballs of the versions npm ci installed.
  const manifest = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8"));
  const dependencies: Record<string, string> = { portcullis: `file:./${packed[0].filename}` };
  for (const name of [...Object.keys(manifest.dependencies), "hono"]) {
    const [tarball] = JSON.parse(
      run("npm", ["pack", "--json", "--ignore-scripts", path.join(ROOT, "node_modules", name)]),
    ) as [{ filename: string }];
    dependencies[name] = `file:./${tarball.filename}`;
  }
  writeFileSync(
    path.join(work, "package.json"),
    JSON.stringify({ name: "consumer-app", private: true, type: "module", dependencies }),
  );
  run("npm", [
    "install",
    "--offline",
    "--no-audit",
    "--no-fund",
    "--ignore-scripts",
    "--cache",
    path.join(work, ".npm"),
  ]);
  symlinkSync(path.join(ROOT, "node_modules/wrangler"), path.join(work, "node_modules/wrangler"), "dir");
  // The consumer's Env and runtime types come from its own wrangler.toml, as Cloudflare recommends.
  run(bin("wrangler"), ["types"]);
  run(bin("wrangler"), ["deploy", "--dry-run", "--outdir", "dist"]);

  // The signing key comes from the package's own key generator, as a user would make it.
  const [privateJwk] = JSON.parse(run(path.join(work, "node_modules/.bin/portcullis-keygen"), [])) as [JWK];
  key = { privateJwk, publicJwk: {}, privateKey: (await importJWK(privateJwk)) as CryptoKey };
  const { workerOptions } = unstable_getMiniflareWorkerOptions(path.join(work, "wrangler.toml"));
  const options = (bindings: Record<string, string>, ratelimits = true) =>
    ({
      ...workerOptions,
      ...(ratelimits ? {} : { ratelimits: {} }),
      modules: true,
      scriptPath: path.join(work, "dist/worker.js"),
      modulesRoot: path.join(work, "dist"),
      bindings: { ...(workerOptions.bindings ?? {}), SIGNING_KEYS: JSON.stringify([key.privateJwk]), ...bindings },
    }) as ConstructorParameters<typeof Miniflare>[0];
  mf = new Miniflare(options({}));
  url = (await mf.ready).toString().replace(/\/$/, "");
  variant = async (bindings, changes = {}) => {
    const started = new Miniflare(options(bindings, changes.ratelimits !== false));
    variants.push(started);
    await started.ready;
    return started;
  };
});

afterAll(async () => {
  try {
    await Promise.all(variants.map((started) => started.dispose()));
    await mf?.dispose();
  } finally {
    // Also when miniflare never started: nothing of the test stays in the temp folder.
    rmSync(work, { recursive: true, force: true });
  }
});

const call = (requestPath: string, init?: RequestInit) =>
  fetch(`${url}${requestPath}`, { redirect: "manual", ...init });

async function login(): Promise<{ accessToken: string; refreshToken: string }> {
  const response = await call("/auth/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: "alice", password: "wonderland" }),
  });
  expect(response.status).toBe(200);
  const body = (await response.json()) as { access_token: string; expires_in: number };
  expect(body.expires_in).toBe(300); // the setting given in code
  return { accessToken: body.access_token, refreshToken: setCookie(response, REFRESH_COOKIE)?.value ?? "" };
}

describe("a Hono Worker that installed the packed portcullis", () => {
  it("type-checks against the installed declarations (Worker and browser module)", () => {
    expect(() => run(bin("tsc"), ["-p", "tsconfig.json"])).not.toThrow();
    expect(() => run(bin("tsc"), ["-p", "browser/tsconfig.json"])).not.toThrow();
  });

  it("serves its own routes and refuses /api/* without a token with an RFC 6750 challenge", async () => {
    expect(await (await call("/")).text()).toBe("a public page of the app");
    const refused = await call("/api/me");
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toBe('Bearer realm="portcullis"');
  });

  it("logs in through the app's own credential check and refuses a wrong password", async () => {
    const wrong = await call("/auth/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "alice", password: "nope" }),
    });
    expect(wrong.status).toBe(401);
    const { accessToken } = await login();
    const me = await call("/api/me", { headers: { authorization: `Bearer ${accessToken}` } });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({
      sub: "alice",
      scopes: ["read", "write"],
      roles: [],
      iss: "https://consumer.test",
      audience: "consumer-api",
    });
    const admin = await call("/api/admin", { headers: { authorization: `Bearer ${accessToken}` } });
    expect(admin.status).toBe(403);
    expect(admin.headers.get("www-authenticate")).toContain('error="insufficient_scope", scope="admin"');
  });

  it("answers 503 when the app's credential check throws, without echoing what it was given", async () => {
    const response = await call("/auth/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "broken", password: "hunter2-secret" }),
    });
    expect(response.status).toBe(503);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    expect(await response.text()).not.toContain("hunter2");
  });

  it("mounts the sessions endpoints of the same route table (authenticated, with their methods)", async () => {
    const list = await call("/auth/sessions");
    expect(list.status).toBe(401);
    expect(list.headers.get("www-authenticate")).toMatch(/^Bearer /);
    expect((await call("/auth/sessions/AAAAAAAAAAAAAAAAAAAAAA", { method: "DELETE" })).status).toBe(401);
    const wrongMethod = await call("/auth/sessions/revoke-others");
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get("allow")).toBe("POST");
  });

  it("publishes its verification key at the JWKS path", async () => {
    const jwks = (await (await call("/.well-known/jwks.json")).json()) as { keys: Array<{ kid: string; d?: string }> };
    expect(jwks.keys.map((jwk) => jwk.kid)).toEqual([key.privateJwk.kid]);
    expect(jwks.keys[0]?.d).toBeUndefined();
  });

  it("refreshes an expired access token transparently, then refuses everything after logout", async () => {
    const session = await login();
    const { sub, sid, auth_time, scope } = decodeClaims(session.accessToken);
    const expired = await mintToken(key, {
      claims: { iss: "https://consumer.test", aud: "consumer-api", sub, sid, auth_time, scope } as never,
      iatOffset: -3600,
      ttl: 300,
    });
    const refreshed = await call("/api/me", {
      headers: { authorization: `Bearer ${expired}`, cookie: `${REFRESH_COOKIE}=${session.refreshToken}` },
    });
    expect(refreshed.status).toBe(200);
    expect(((await refreshed.json()) as { sid: string }).sid).toBe(sid);
    const newToken = refreshed.headers.get("authorization")?.replace(/^Bearer /, "") ?? "";
    expect(decodeClaims(newToken)).toMatchObject({ sub: "alice", sid });
    const rotated = setCookie(refreshed, REFRESH_COOKIE)?.value;
    expect(rotated).toBeDefined();
    expect(rotated).not.toBe(session.refreshToken);

    const logout = await call("/auth/logout", {
      method: "POST",
      headers: { authorization: `Bearer ${newToken}`, cookie: `${REFRESH_COOKIE}=${rotated}` },
    });
    expect(logout.status).toBe(204);
    // The session is revoked in KV: its tokens are refused, and its refresh cookie cannot revive it.
    const after = await call("/api/me", { headers: { authorization: `Bearer ${newToken}` } });
    expect(after.status).toBe(401);
    expect(after.headers.get("www-authenticate")).toContain('error="invalid_token"');
    const revived = await call("/api/me", {
      headers: { authorization: `Bearer ${expired}`, cookie: `${REFRESH_COOKIE}=${rotated}` },
    });
    expect(revived.status).toBe(401);
  });

  it("revokes a refresh token through RFC 7009 /auth/revoke", async () => {
    const session = await login();
    const revoke = await call("/auth/revoke", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: session.refreshToken, token_type_hint: "refresh_token" }),
    });
    expect(revoke.status).toBe(200);
    const refresh = await call("/auth/refresh", {
      method: "POST",
      headers: { cookie: `${REFRESH_COOKIE}=${session.refreshToken}` },
    });
    expect(refresh.status).toBe(401);
  });
  it("bites a logout, an ended session and revoke-others in the middleware at once, with a 30 s revocation cache", async () => {
    const app = await variant({ REVOCATION_CACHE_SECONDS: "30" });
    const base = (await app.ready).toString().replace(/\/$/, "");
    const at = (requestPath: string, init?: RequestInit) =>
      fetch(`${base}${requestPath}`, { redirect: "manual", ...init });
    const signIn = async () => {
      const response = await at("/auth/login", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username: "alice", password: "wonderland" }),
      });
      const { access_token } = (await response.json()) as { access_token: string };
      return { authorization: `Bearer ${access_token}`, sid: decodeClaims(access_token).sid as string };
    };
    const me = async (authorization: string) => (await at("/api/me", { headers: { authorization } })).status;

    const loggedOut = await signIn();
    expect(await me(loggedOut.authorization)).toBe(200); // the middleware's snapshot is now fresh for 30 s
    expect(
      (await at("/auth/logout", { method: "POST", headers: { authorization: loggedOut.authorization } })).status,
    ).toBe(204);
    expect(await me(loggedOut.authorization)).toBe(401);

    const [ended, ender] = [await signIn(), await signIn()];
    expect(await me(ended.authorization)).toBe(200);
    const end = await at(`/auth/sessions/${ended.sid}`, {
      method: "DELETE",
      headers: { authorization: ender.authorization },
    });
    expect(end.status).toBe(204);
    expect(await me(ended.authorization)).toBe(401);

    const [other, keeper] = [await signIn(), await signIn()];
    expect(await me(other.authorization)).toBe(200);
    const revoked = await at("/auth/sessions/revoke-others", {
      method: "POST",
      headers: { authorization: keeper.authorization },
    });
    expect(revoked.status).toBe(200);
    expect(await me(other.authorization)).toBe(401);
    expect(await me(keeper.authorization)).toBe(200);
  });

  it("names missing rate-limit bindings in production, and runs without them when told to", async () => {
    const unbound = await variant({}, { ratelimits: false });
    const refused = await unbound.dispatchFetch("http://consumer.test/api/me");
    expect(refused.status).toBe(503);
    await refused.body?.cancel();
    const allowed = await variant({ RATE_LIMITS: "false" }, { ratelimits: false });
    const login = await allowed.dispatchFetch("http://consumer.test/auth/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "alice", password: "wonderland" }),
    });
    expect(login.status).toBe(200);
    await login.body?.cancel();
  });

  it("checks its wrangler.toml with `npx portcullis check`, and explains a request", () => {
    // The secret's name, as a user developing locally has it in .dev.vars; its value is never printed.
    writeFileSync(path.join(work, ".dev.vars"), `SIGNING_KEYS='${JSON.stringify([key.privateJwk])}'\n`);
    try {
      const check = run("npx", ["--offline", "portcullis", "check"]);
      expect(check).toContain("wrangler.toml (top level), a Worker using portcullis/hono");
      expect(check).toContain("SIGNING_KEYS (.dev.vars)");
      expect(check).toContain("OK: the configuration passes every check the Worker makes at start.");
      expect(check).not.toContain(key.privateJwk.d);
      const explain = run("npx", ["--offline", "portcullis", "explain", "GET", "/api/me"]);
      expect(explain).toMatch(/^answer: 401 token_missing/m);
    } finally {
      rmSync(path.join(work, ".dev.vars"), { force: true });
    }
  });

  it("checks the gateway's signed assertion with portcullis/assertion in plain Node", async () => {
    // What the standalone gateway signs (its own minting code), with the consumer's key.
    const claims = { sub: "alice", sid: "s1", scopes: new Set(["read"]), roles: new Set(), payload: {} };
    const assertion = await mintUpstreamAssertion(
      claims as unknown as AccessTokenClaims,
      "GET",
      "/orders/7",
      { key: key.privateKey, alg: "EdDSA", kid: key.privateJwk.kid },
      {
        issuer: "https://consumer.test",
        audience: "https://orders.internal",
        ttlSeconds: 60,
        claims: [],
        now: Date.now(),
      },
    );
    const { d: _private, ...publicJwk } = key.privateJwk;
    const input = {
      jwks: { keys: [{ ...publicJwk, kid: key.privateJwk.kid, alg: "EdDSA" }] },
      issuer: "https://consumer.test",
      audience: "https://orders.internal",
      assertion,
      method: "GET",
      target: "/orders/7?page=2",
    };
    const output = run(process.execPath, [path.join(work, "node/check-assertion.mjs"), JSON.stringify(input)]);
    expect(JSON.parse(output)).toEqual({
      sub: "alice",
      scopes: ["read"],
      refused: "wrong_request",
      middleware: "function",
    });
  });

  it("declares the bindings of docs/hono.md's wrangler.toml, no more and no fewer", () => {
    const docs = readFileSync(path.join(ROOT, "docs/hono.md"), "utf8");
    const block = /```toml\n(# wrangler\.toml[\s\S]*?)```/.exec(docs)?.[1];
    expect(block).toBeDefined();
    writeFileSync(path.join(work, "docs-wrangler.toml"), block ?? "");
    const documented = unstable_getMiniflareWorkerOptions(path.join(work, "docs-wrangler.toml")).workerOptions;
    const used = unstable_getMiniflareWorkerOptions(path.join(work, "wrangler.toml")).workerOptions;
    for (const group of ["kvNamespaces", "durableObjects", "ratelimits"] as const) {
      expect([group, Object.keys(documented[group] ?? {}).sort()]).toEqual([
        group,
        Object.keys(used[group] ?? {}).sort(),
      ]);
    }
  });
});
