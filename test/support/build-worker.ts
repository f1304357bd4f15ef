/**
 * Bundles the Worker exactly as `wrangler deploy` would (dry run, minified as
 * [env.production] says), once per test run.
 * Integration tests load this bundle into miniflare: what we test is what we ship.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";

export const ROOT = path.resolve(import.meta.dirname, "../..");
export const BUNDLE_DIR = path.join(ROOT, "dist/test-worker");
export const BUNDLE = path.join(BUNDLE_DIR, "index.js");
/** An unminified build of the same Worker, for the CPU profile: it names modules by comment. */
export const READABLE_BUNDLE_DIR = path.join(ROOT, "dist/readable-worker");

export function buildWorker(
  options: { readonly minify?: boolean; readonly outdir?: string; readonly cwd?: string } = {},
): string {
  const outdir = options.outdir ?? BUNDLE_DIR;
  execFileSync(
    path.join(ROOT, "node_modules/.bin/wrangler"),
    [
      "deploy",
      "--dry-run",
      "--env",
      "production",
      ...(options.minify === false ? ["--no-minify"] : []),
      "--outdir",
      outdir,
    ],
    {
      cwd: options.cwd ?? ROOT,
      stdio: "pipe",
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", WRANGLER_LOG: "error", CI: "true" },
    },
  );
  const bundle = path.join(outdir, "index.js");
  if (!existsSync(bundle)) throw new Error(`wrangler did not produce ${bundle}`);
  return bundle;
}
