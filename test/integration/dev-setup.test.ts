/**
 * The out-of-the-box setup of `npm run dev`: wrangler.toml's top-level (development)
 * bindings, the dev-only key, the demo upstream reached through the UPSTREAM service
 * binding and the demo identity provider (examples/demo-idp), as a newcomer runs it; and
 * scripts/dev.mjs, which runs the demo IdP and wrangler dev so that they stop together.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import type http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { build } from "esbuild";
import { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { startDemoIdp } from "../../examples/demo-idp/server";
import { BUNDLE, BUNDLE_DIR, ROOT } from "../support/build-worker";
import { freePort, retryOnPortClash } from "../support/free-port";
import { continuesTo, loginThroughIdp } from "../support/oidc-login";

let mf: Miniflare;
let url: string;
let idp: { server: http.Server; issuer: string };
let demoSite: string;

beforeAll(async () => {
  // What `npm run dev` does first: the demo upstream serves the built demo page as assets.
  const { buildDemo } = await import(path.join(ROOT, "examples/demo-upstream/build.mjs"));
  demoSite = await buildDemo();
  const demoScript = path.join(BUNDLE_DIR, "demo-upstream.mjs");
  await build({
    entryPoints: [path.join(ROOT, "examples/demo-upstream/src/index.ts")],
    bundle: true,
    format: "esm",
    outfile: demoScript,
    logLevel: "warning",
  });
  const gateway = unstable_getMiniflareWorkerOptions(path.join(ROOT, "wrangler.toml")).workerOptions;
  const demo = unstable_getMiniflareWorkerOptions(
    path.join(ROOT, "examples/demo-upstream/wrangler.toml"),
  ).workerOptions;
  // scripts/dev.mjs starts the demo IdP for the gateway's port and tells wrangler where it is.
  await retryOnPortClash(async () => {
    const gatewayPort = await freePort();
    idp = await startDemoIdp(0, gatewayPort);
    mf = new Miniflare({
      port: gatewayPort,
      workers: [
        {
          ...gateway,
          name: "portcullis-dev",
          modules: true,
          scriptPath: BUNDLE,
          bindings: {
            ...gateway.bindings,
            OIDC_ISSUER: idp.issuer,
            OIDC_POST_LOGOUT_REDIRECT_URI: `http://localhost:${gatewayPort}/demo/`,
          },
        },
        { name: "portcullis-demo-upstream", modules: true, scriptPath: demoScript, bindings: demo.bindings },
      ],
    } as ConstructorParameters<typeof Miniflare>[0]);
    try {
      url = (await mf.ready).toString().replace(/\/$/, "").replace("127.0.0.1", "localhost");
    } catch (error) {
      // A port taken meanwhile: let the next attempt start both again.
      await mf.dispose().catch(() => undefined);
      idp?.server.closeAllConnections();
      idp?.server.close();
      throw error;
    }
  });
});
afterAll(async () => {
  await mf?.dispose();
  idp?.server.closeAllConnections();
  idp?.server.close();
});

describe("npm run dev's configuration", () => {
  it("lets a newcomer log in as a demo user and call a protected route through the service binding", async () => {
    expect((await fetch(`${url}/api/me`)).status).toBe(401);
    const login = await fetch(`${url}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "alice", password: "wonderland" }),
    });
    expect(login.status).toBe(200);
    const { access_token: token, expires_in: expiresIn } = (await login.json()) as Record<string, string>;
    expect(expiresIn).toBe(60);
    const me = await fetch(`${url}/api/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ subject: "user-alice", scopes: "read write" });
    const admin = await fetch(`${url}/api/admin/stats`, { headers: { authorization: `Bearer ${token}` } });
    expect(admin.status).toBe(403);
  });

  it("publishes the development key, marked as such", async () => {
    const jwks = (await (await fetch(`${url}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
    expect(jwks.keys.map((key) => key.kid)).toEqual(["portcullis-dev-key-do-not-deploy"]);
  });
});

describe("npm run dev's identity provider login", () => {
  /** What the demo page does on load: resume the session from the refresh cookie. */
  async function resume(cookie: string): Promise<Response> {
    return fetch(`${url}/auth/refresh`, {
      method: "POST",
      headers: { cookie, origin: url, accept: "application/json" },
    });
  }

  it("signs a newcomer in at the demo IdP and back to the demo page, with the demo user's scope", async () => {
    const login = await loginThroughIdp(url, { login: "alice", returnTo: "/demo/" });
    expect(await continuesTo(login.response)).toBe("/demo/");
    const refreshed = await resume(await login.cookieHeader());
    expect(refreshed.status).toBe(200);
    const { access_token: token } = (await refreshed.json()) as Record<string, string>;
    const me = await fetch(`${url}/api/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ subject: expect.stringContaining("alice"), scopes: "read write" });
    const admin = await fetch(`${url}/api/admin/stats`, { headers: { authorization: `Bearer ${token}` } });
    expect(admin.status).toBe(403);
  });

  it("gives the demo IdP's admin the admin scope", async () => {
    const login = await loginThroughIdp(url, { login: "admin", returnTo: "/demo/" });
    const refreshed = await resume(await login.cookieHeader());
    const { access_token: token } = (await refreshed.json()) as Record<string, string>;
    const admin = await fetch(`${url}/api/admin/stats`, { headers: { authorization: `Bearer ${token}` } });
    expect(admin.status).toBe(200);
  });

  it("shows the IdP sign-in next to the password login on the demo page", async () => {
    // The page as built for the demo upstream's assets (the browser test clicks it).
    const page = await readFile(path.join(demoSite, "index.html"), "utf8");
    expect(page).toContain('id="login-form"');
    expect(page).toMatch(/<a id="idp-login"[^>]*href="\/auth\/oidc\/login\?return_to=%2Fdemo%2F"/);
    expect(page).toContain("Sign in with the demo identity provider");
  });
});

describe("npm run dev's processes (scripts/dev.mjs)", () => {
  const running: ChildProcess[] = [];
  afterAll(() => {
    // Whatever of a group is left (normally nothing), even when its leader has exited.
    for (const child of running) {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        // the group is gone
      }
    }
  });

  /** Starts scripts/dev.mjs in its own process group; resolves once both servers answer. */
  function startDev(): ReturnType<typeof startDevOnce> {
    return retryOnPortClash(startDevOnce);
  }

  async function startDevOnce(): Promise<{
    child: ChildProcess;
    gateway: string;
    idpPid: number;
    idpUrl: string;
    stopped: Promise<unknown>;
  }> {
    const [port, idpPort, inspectorPort] = [await freePort(), await freePort(), await freePort()];
    const state = await mkdtemp(path.join(tmpdir(), "portcullis-dev-"));
    const child = spawn(
      process.execPath,
      [
        path.join(ROOT, "scripts/dev.mjs"),
        ...["--idp-port", String(idpPort), "--port", String(port), "--ip", "127.0.0.1"],
        ...["--inspector-port", String(inspectorPort), "--persist-to", state, "--show-interactive-dev-session=false"],
      ],
      {
        cwd: ROOT,
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" },
      },
    );
    running.push(child);
    const stopped = once(child, "exit").finally(() => rm(state, { recursive: true, force: true }));
    let output = "";
    const gateway = `http://localhost:${port}`;
    const ready = new Promise<number>((resolve, reject) => {
      const onData = (chunk: string) => {
        output += chunk;
        const pid = /\[demo-idp\].*\(pid (\d+)\)/.exec(output)?.[1];
        if (pid && /Ready on/.test(output)) resolve(Number(pid));
      };
      for (const stream of [child.stdout, child.stderr]) {
        stream?.setEncoding("utf8");
        stream?.on("data", onData);
      }
      child.once("exit", (code) =>
        reject(new Error(`scripts/dev.mjs exited (${code}) before it was ready:\n${output.slice(-2000)}`)),
      );
    });
    const idpPid = await ready;
    const discovery = await fetch(`http://127.0.0.1:${idpPort}/.well-known/openid-configuration`);
    expect(discovery.status).toBe(200);
    expect((await fetch(`${gateway}/.well-known/jwks.json`)).status).toBe(200);
    return { child, gateway, idpPid, idpUrl: `http://127.0.0.1:${idpPort}`, stopped };
  }

  async function refused(target: string): Promise<boolean> {
    return fetch(target, { signal: AbortSignal.timeout(2_000) }).then(
      async (response) => {
        await response.body?.cancel();
        return false;
      },
      () => true,
    );
  }

  it("stops wrangler when the demo IdP dies", { timeout: 90_000 }, async () => {
    const { gateway, idpPid, stopped } = await startDev();
    process.kill(idpPid, "SIGKILL");
    const [code] = (await stopped) as [number | null];
    expect(code).not.toBe(0);
    expect(await refused(`${gateway}/.well-known/jwks.json`)).toBe(true);
  });

  it("stops the demo IdP when wrangler exits", { timeout: 90_000 }, async () => {
    const { child, idpPid, idpUrl, stopped } = await startDev();
    // scripts/dev.mjs's children (Linux): the IdP and wrangler.
    const children = (await readFile(`/proc/${child.pid}/task/${child.pid}/children`, "utf8")).trim().split(/\s+/);
    const commands = await Promise.all(children.map((pid) => readFile(`/proc/${pid}/cmdline`, "utf8")));
    const wrangler = children[commands.findIndex((command) => command.includes("wrangler.js"))];
    expect(wrangler).toBeDefined();
    process.kill(Number(wrangler), "SIGTERM"); // as when wrangler dev is quit on its own
    await stopped;
    expect(await refused(`${idpUrl}/.well-known/openid-configuration`)).toBe(true);
    expect(() => process.kill(idpPid, 0)).toThrow();
  });

  it("stops both on Ctrl-C", { timeout: 90_000 }, async () => {
    const { child, gateway, idpPid, stopped } = await startDev();
    child.kill("SIGINT");
    const [code] = (await stopped) as [number | null];
    expect(code).toBe(0);
    expect(await refused(`${gateway}/.well-known/jwks.json`)).toBe(true);
    expect(() => process.kill(idpPid, 0)).toThrow();
  });
});
