/**
 * Runs the bundled Worker in miniflare with the bindings of `wrangler.toml`
 * ([env.production]: KV, Durable Objects, rate limits), pointed at a real upstream on
 * 127.0.0.1, with fresh test keys. Returns helpers to call it and inspect its state.
 */

import type { Readable } from "node:stream";
import { Miniflare } from "miniflare";
import { BUNDLE } from "./build-worker";
import { makeKey, TEST_SECRETS, type TestKey } from "./test-keys";
import { startUpstream, type TestUpstream } from "./upstream";
import { WRANGLER_CONFIG, workerOptionsOf } from "./worker-options";

export const ISSUER = "https://gateway.test";
export const AUDIENCE = "test-api";

export interface GatewayOptions {
  /** Extra or overriding vars/secrets. */
  readonly vars?: Record<string, unknown>;
  /** Use this upstream instead of starting one. */
  readonly upstream?: TestUpstream;
  /** Remove these bindings from the config (e.g. to test missing settings). */
  readonly omit?: readonly string[];
  /** Extra Miniflare options for the gateway worker (e.g. `unsafeDirectSockets`, `ratelimits`). */
  readonly workerOptions?: Record<string, unknown>;
  /** More workers to run in the same workerd, after the gateway (e.g. the benchmark's pass-through). */
  readonly extraWorkers?: readonly Record<string, unknown>[];
  /** Keep the Worker's log lines in `logs` (default true; long benchmark runs turn it off). */
  readonly keepLogs?: boolean;
  /**
   * "wrangler" keeps the limits of wrangler.toml; the default raises them so tests that
   * log in many times are not throttled (the rate-limit tests use "wrangler").
   */
  readonly rateLimits?: "wrangler" | "relaxed";
  /** Another wrangler.toml's [env.production] bindings (e.g. an older release's shape); default the repository's. */
  readonly wranglerConfig?: string;
  /** Miniflare options shared by every worker of the instance (e.g. `unsafeDevRegistryPath`). */
  readonly sharedOptions?: Record<string, unknown>;
  /** The signing key (default: a fresh one), e.g. to restart on persisted storage with the same key. */
  readonly key?: TestKey;
}

export interface Gateway {
  readonly url: string;
  readonly upstream: TestUpstream;
  readonly key: TestKey;
  readonly mf: Miniflare;
  readonly logs: string[];
  fetch(path: string, init?: RequestInit): Promise<Response>;
  kv(): ReturnType<Miniflare["getKVNamespace"]>;
  /**
   * Waits until at least `count` log lines satisfy `predicate` and returns them. Log lines
   * reach the test through workerd's pipes some time after the answer; this waits for
   * them instead of sleeping (bounded, so a line that never comes fails with a message).
   */
  waitForLog(predicate: (line: string) => boolean, count?: number): Promise<string[]>;
  /**
   * Resolves once every line the Worker wrote to stdout before this call has arrived:
   * it sends a refused request and waits for that request's own log line.
   */
  flushLogs(): Promise<void>;
  close(): Promise<void>;
}

const LOG_WAIT_MS = 15_000;

process.env.WRANGLER_LOG ??= "error";

export async function startGateway(options: GatewayOptions = {}): Promise<Gateway> {
  const upstream = options.upstream ?? (await startUpstream());
  const key = options.key ?? (await makeKey("EdDSA", "test-ed25519"));
  const workerOptions = await workerOptionsOf(options.wranglerConfig ?? WRANGLER_CONFIG);
  const bindings: Record<string, unknown> = {
    ...(workerOptions.bindings ?? {}),
    UPSTREAM_URL: upstream.url,
    TOKEN_ISSUER: ISSUER,
    TOKEN_AUDIENCE: AUDIENCE,
    SIGNING_KEYS: JSON.stringify([key.privateJwk]),
    CREDENTIAL_CHECK_SECRET: TEST_SECRETS.CREDENTIAL_CHECK_SECRET,
    OPERATOR_TOKEN: TEST_SECRETS.OPERATOR_TOKEN,
    REVOCATION_CACHE_SECONDS: "0",
    UPSTREAM_TIMEOUT_MS: "2000",
    ROUTES: JSON.stringify([
      { path: "/health", public: true },
      { path: "/public/*", public: true },
      { path: "/admin/*", scopes: ["admin"] },
      { path: "/orders/*", methods: ["DELETE"], roles: ["operator"] },
    ]),
    ...options.vars,
  };
  for (const name of options.omit ?? []) delete bindings[name];

  const logs: string[] = [];
  const collect = (stream: NodeJS.ReadableStream) => {
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      if (options.keepLogs === false) return;
      logs.push(...chunk.split("\n").filter((line) => line.trim() !== ""));
    });
  };
  const ratelimits =
    options.rateLimits === "wrangler"
      ? workerOptions.ratelimits
      : Object.fromEntries(
          Object.entries(workerOptions.ratelimits ?? {}).map(([name, limit]) => [
            name,
            { ...(limit as object), simple: { limit: 1_000_000, period: 60 } },
          ]),
        );
  const gatewayWorker = {
    ...workerOptions,
    ratelimits,
    name: "portcullis",
    modules: true,
    scriptPath: BUNDLE,
    bindings: bindings as Record<string, string>,
    ...options.workerOptions,
  };
  const handleRuntimeStdio = (stdout: Readable, stderr: Readable) => {
    collect(stdout);
    collect(stderr);
  };
  const mf = new Miniflare(
    (options.extraWorkers === undefined
      ? { ...gatewayWorker, ...options.sharedOptions, handleRuntimeStdio }
      : {
          ...options.sharedOptions,
          handleRuntimeStdio,
          workers: [gatewayWorker, ...options.extraWorkers],
        }) as ConstructorParameters<typeof Miniflare>[0],
  );
  const url = (await mf.ready).toString().replace(/\/$/, "");
  const waitForLog = async (predicate: (line: string) => boolean, count = 1): Promise<string[]> => {
    const deadline = Date.now() + LOG_WAIT_MS;
    for (;;) {
      const matching = logs.filter(predicate);
      if (matching.length >= count) return matching;
      if (Date.now() > deadline) {
        throw new Error(`expected ${count} matching log line(s) within ${LOG_WAIT_MS} ms, saw ${matching.length}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  return {
    url,
    upstream,
    key,
    mf,
    logs,
    fetch: (requestPath, init) => fetch(`${url}${requestPath}`, { redirect: "manual", ...init }),
    kv: () => mf.getKVNamespace("REVOKED"),
    waitForLog,
    flushLogs: async () => {
      // A protected path without a token: refused, and logged with the answer's request id.
      const marker = await fetch(`${url}/__portcullis-test/log-marker`, { redirect: "manual" });
      await marker.body?.cancel();
      const requestId = marker.headers.get("x-request-id");
      if (requestId === null) throw new Error("the log marker's answer has no x-request-id");
      await waitForLog((line) => line.includes(requestId));
    },
    close: async () => {
      await mf.dispose();
      if (!options.upstream) await upstream.close();
    },
  };
}
