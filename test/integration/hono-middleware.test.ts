/**
 * portcullis/hono from source, in a Hono app that only verifies: no signing key of its
 * own, access tokens from another issuer checked against its remote JWKS (JWKS_URL on
 * 127.0.0.1), the revocation list (the ledger's snapshot in KV) consulted, and the verified token's claims in
 * `c.var.auth`. The app is test/consumer's Worker, bundled with "portcullis/hono" pointing
 * at src/ (the packed package is tested in test/package/consumer-package.test.ts).
 */
import path from "node:path";
import { build } from "esbuild";
import { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { ROOT } from "../support/build-worker";
import type { Gateway } from "../support/gateway";
import { type JwksServer, startJwksServer } from "../support/jwks-server";
import { recordAndPublish } from "../support/revocations";
import { makeKey, type TestKey } from "../support/test-keys";
import { mintToken } from "../support/tokens";

const CONSUMER = path.join(ROOT, "test/consumer");
const OUT_DIR = path.join(ROOT, "dist/test-hono-worker");
const ISSUER = "https://consumer.test";
const AUDIENCE = "consumer-api";

let mf: Miniflare;
let url: string;
let jwks: JwksServer;
let issuerKey: TestKey;

beforeAll(async () => {
  issuerKey = await makeKey("ES256", "other-issuer-key");
  jwks = await startJwksServer([issuerKey.publicJwk]);
  await build({
    entryPoints: [path.join(CONSUMER, "src/worker.ts")],
    outfile: path.join(OUT_DIR, "worker.js"),
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    external: ["cloudflare:*"],
    alias: { "portcullis/hono": path.join(ROOT, "src/hono/index.ts") },
    logLevel: "warning",
  });
  const { workerOptions } = unstable_getMiniflareWorkerOptions(path.join(CONSUMER, "wrangler.toml"));
  mf = new Miniflare({
    ...workerOptions,
    modules: true,
    scriptPath: path.join(OUT_DIR, "worker.js"),
    modulesRoot: OUT_DIR,
    bindings: { ...(workerOptions.bindings ?? {}), JWKS_URL: jwks.url },
  } as ConstructorParameters<typeof Miniflare>[0]);
  url = (await mf.ready).toString().replace(/\/$/, "");
}, 60_000);

afterAll(async () => {
  await mf?.dispose();
  await jwks?.close();
});

const token = (claims: Record<string, unknown> = {}, key = issuerKey) =>
  mintToken(key, { claims: { iss: ISSUER, aud: AUDIENCE, sub: "user-carol", sid: undefined, ...claims } as never });
const me = (bearer: string) => fetch(`${url}/api/me`, { headers: { authorization: `Bearer ${bearer}` } });

describe("portcullis() with a remote JWKS and no signing key", () => {
  it("accepts a token the remote JWKS verifies, exposes its identity and raw claims, and keeps the token out of serialization", async () => {
    const bearer = await token({ scope: "read", roles: ["auditor"] });
    const response = await me(bearer);
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      sub: "user-carol",
      scopes: ["read"],
      roles: ["auditor"],
      iss: ISSUER,
      audience: AUDIENCE,
    });
    // Serializing c.var.auth (as a careless log line would) does not write the token out.
    expect(body.serialized).toContain('"sub":"user-carol"');
    expect(body.serialized).not.toContain(bearer);
  });

  it("requireSignIn: a recent sign-in with a second factor passes; an old or weaker one gets RFC 9470's challenge", async () => {
    const now = Math.floor(Date.now() / 1000);
    const payout = (bearer: string) =>
      fetch(`${url}/api/payouts`, { method: "POST", headers: { authorization: `Bearer ${bearer}` } });
    const recent = await payout(await token({ auth_time: now - 60, amr: ["pwd", "otp"] }));
    expect(recent.status).toBe(200);
    expect(await recent.text()).toBe("payout sent");
    for (const claims of [
      { auth_time: now - 60, amr: ["pwd"] },
      { auth_time: now - 3600, amr: ["pwd", "otp"] },
      { amr: ["pwd", "otp"] },
    ]) {
      const refused = await payout(await token(claims));
      expect(refused.status, JSON.stringify(claims)).toBe(401);
      expect(refused.headers.get("www-authenticate")).toContain('error="insufficient_user_authentication"');
      expect(refused.headers.get("www-authenticate")).toContain('max_age="300"');
    }
  });

  it("refuses a token signed by a key the JWKS does not hold, or for another audience", async () => {
    const stranger = await makeKey("ES256", "other-issuer-key");
    for (const bad of [await token({}, stranger), await token({ aud: "someone-else" })]) {
      const response = await me(bad);
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toContain('error="invalid_token"');
      expect(response.headers.get("content-type")).toBe("application/problem+json");
    }
  });

  it("refuses a token whose id is on the KV revocation list", async () => {
    const jti = crypto.randomUUID();
    const revoked = await token({ jti });
    expect((await me(revoked)).status).toBe(200);
    // Recorded in the app's revocation ledger and published to KV, as an endpoint would.
    const app = { mf, kv: () => mf.getKVNamespace("REVOKED") } as unknown as Gateway;
    await recordAndPublish(app, [{ kind: "jti", id: jti, reason: "test", ttlSeconds: 60 }]);
    // Within the bound: a shard this isolate read before may come back once as that value.
    let status = (await me(revoked)).status;
    for (const until = Date.now() + 3_000; status !== 401 && Date.now() < until; ) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      status = (await me(revoked)).status;
    }
    expect(status).toBe(401);
  });

  it("answers login 503 problem+json, naming nothing secret, when the app has no signing key", async () => {
    const response = await fetch(`${url}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "alice", password: "wonderland" }),
    });
    expect(response.status).toBe(503);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
  });
});
