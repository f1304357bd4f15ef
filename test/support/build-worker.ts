/**
 * Bundles the Worker exactly as `wrangler deploy` would (dry run), once per test run.
 * Integration tests load this bundle into miniflare: what we test is what we ship.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";

export const ROOT = path.resolve(import.meta.dirname, "../..");
export const BUNDLE_DIR = path.join(ROOT, "dist/test-worker");
export const BUNDLE = path.join(BUNDLE_DIR, "index.js");

export function buildWorker(): string {
  execFileSync(
    path.join(ROOT, "node_modules/.bin/wrangler"),
    ["deploy", "--dry-run", "--env", "production", "--outdir", BUNDLE_DIR],
    {
      cwd: ROOT,
      stdio: "pipe",
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", WRANGLER_LOG: "error", CI: "true" },
    },
  );
  if (!existsSync(BUNDLE)) throw new Error(`wrangler did not produce ${BUNDLE}`);
  return BUNDLE;
}
