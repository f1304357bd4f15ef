/**
 * Two Cloudflare locations, simulated: two copies of the bundled gateway as separate
 * Workers in one workerd (separate isolates, so separate in-isolate caches), sharing the
 * KV namespace and every Durable Object namespace, as two locations of one deployment
 * do. Each is reached through its own socket. What this cannot show is KV's propagation
 * delay between locations (≈ 60 s in production): miniflare's KV is one local store.
 */
import path from "node:path";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { BUNDLE, ROOT } from "./build-worker";
import { AUDIENCE, type Gateway, ISSUER, startGateway } from "./gateway";
import { makeKey, TEST_SECRETS } from "./test-keys";
import { startUpstream, type TestUpstream } from "./upstream";

export interface TwoLocations {
  /** Location A: the gateway helper (its `fetch`, logs, KV and objects). */
  readonly a: Gateway;
  /** Location B: another isolate of the same bundle. */
  readonly b: { readonly url: string; fetch(requestPath: string, init?: RequestInit): Promise<Response> };
  readonly upstream: TestUpstream;
  close(): Promise<void>;
}

export async function startTwoLocations(vars: Record<string, string>): Promise<TwoLocations> {
  const key = await makeKey("EdDSA", "two-locations");
  const upstream = await startUpstream();
  const allVars = { SIGNING_KEYS: JSON.stringify([key.privateJwk]), ...vars };
  const { workerOptions } = unstable_getMiniflareWorkerOptions(path.join(ROOT, "wrangler.toml"), "production");
  // Every Durable Object binding of B points at A's classes: the same objects, as every location shares them.
  const sharedObjects = Object.fromEntries(
    Object.entries(workerOptions.durableObjects ?? {}).map(([binding, target]) => [
      binding,
      {
        ...(typeof target === "string" ? { className: target } : (target as object)),
        scriptName: "portcullis",
        useSQLite: true,
      },
    ]),
  );
  const gateway = await startGateway({
    upstream,
    vars: allVars,
    extraWorkers: [
      {
        ...workerOptions,
        name: "portcullis-b",
        modules: true,
        scriptPath: BUNDLE,
        bindings: {
          ...(workerOptions.bindings ?? {}),
          UPSTREAM_URL: upstream.url,
          TOKEN_ISSUER: ISSUER,
          TOKEN_AUDIENCE: AUDIENCE,
          CREDENTIAL_CHECK_SECRET: TEST_SECRETS.CREDENTIAL_CHECK_SECRET,
          OPERATOR_TOKEN: TEST_SECRETS.OPERATOR_TOKEN,
          UPSTREAM_TIMEOUT_MS: "2000",
          ...allVars,
        },
        ratelimits: Object.fromEntries(
          Object.entries(workerOptions.ratelimits ?? {}).map(([name, limit]) => [
            name,
            { ...(limit as object), simple: { limit: 1_000_000, period: 60 } },
          ]),
        ),
        durableObjects: sharedObjects,
        unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
      },
    ],
  });
  const url = (await gateway.mf.unsafeGetDirectURL("portcullis-b")).toString().replace(/\/$/, "");
  // Both locations sign with `key` (the helper's own key is replaced by SIGNING_KEYS).
  const a: Gateway = { ...gateway, key };
  return {
    a,
    b: { url, fetch: (requestPath, init) => fetch(`${url}${requestPath}`, { redirect: "manual", ...init }) },
    upstream,
    close: async () => {
      await a.close();
      await upstream.close();
    },
  };
}
