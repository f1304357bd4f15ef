/**
 * The out-of-the-box setup of `npm run dev`: wrangler.toml's top-level (development)
 * bindings, the dev-only key, and the demo upstream reached through the UPSTREAM service
 * binding, as a newcomer runs it.
 */
import path from "node:path";
import { build } from "esbuild";
import { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { BUNDLE, BUNDLE_DIR, ROOT } from "../support/build-worker";

let mf: Miniflare;
let url: string;

beforeAll(async () => {
  // What `npm run dev` does first: the demo upstream serves the built demo page as assets.
  const { buildDemo } = await import(path.join(ROOT, "examples/demo-upstream/build.mjs"));
  await buildDemo();
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
  mf = new Miniflare({
    workers: [
      { ...gateway, name: "portcullis-dev", modules: true, scriptPath: BUNDLE },
      { name: "portcullis-demo-upstream", modules: true, scriptPath: demoScript, bindings: demo.bindings },
    ],
  } as ConstructorParameters<typeof Miniflare>[0]);
  url = (await mf.ready).toString().replace(/\/$/, "").replace("127.0.0.1", "localhost");
});
afterAll(() => mf?.dispose());

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
