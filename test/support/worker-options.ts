/**
 * The miniflare worker options wrangler derives from wrangler.toml's [env.production]
 * (bindings, KV, Durable Objects, rate limits, compatibility), as the tests start the
 * bundled gateway with them. Importing wrangler costs about a second, in every test file
 * that starts a gateway; the integration tests' global setup writes the options once
 * (beside the bundle, keyed by the configuration file's content), and each file reads
 * them back. Any other configuration file, or a stale or missing record, asks wrangler.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { WorkerOptions } from "miniflare";
import { BUNDLE_DIR, ROOT } from "./build-worker";

export const WRANGLER_CONFIG = path.join(ROOT, "wrangler.toml");
const RECORD = path.join(BUNDLE_DIR, "worker-options.json");

interface Record {
  readonly configSha256: string;
  readonly workerOptions: WorkerOptions;
}

function sha256Of(file: string): string {
  return createHash("sha256").update(readFileSync(file)).digest("hex");
}

/**
 * Wrangler's answer, its warnings about wrangler.toml's top-level bindings kept quiet. The
 * quiet is undone after: the global setup's process is the one every test process inherits
 * its environment from, and `npm run dev`'s tests need wrangler's "Ready on" line.
 */
async function fromWrangler(configPath: string): Promise<WorkerOptions> {
  const before = process.env.WRANGLER_LOG;
  process.env.WRANGLER_LOG ??= "error";
  try {
    const { unstable_getMiniflareWorkerOptions } = await import("wrangler");
    return unstable_getMiniflareWorkerOptions(configPath, "production").workerOptions as WorkerOptions;
  } finally {
    if (before === undefined) delete process.env.WRANGLER_LOG;
  }
}

/** For the global setup: ask wrangler once, and keep the answer for the test files. */
export async function recordWorkerOptions(): Promise<void> {
  const record: Record = {
    configSha256: sha256Of(WRANGLER_CONFIG),
    workerOptions: await fromWrangler(WRANGLER_CONFIG),
  };
  writeFileSync(RECORD, JSON.stringify(record));
}

/** The worker options of `configPath` ([env.production]). */
export async function workerOptionsOf(configPath: string = WRANGLER_CONFIG): Promise<WorkerOptions> {
  if (configPath === WRANGLER_CONFIG && existsSync(RECORD)) {
    const record = JSON.parse(readFileSync(RECORD, "utf8")) as Record;
    if (record.configSha256 === sha256Of(configPath)) return record.workerOptions;
  }
  return fromWrangler(configPath);
}
