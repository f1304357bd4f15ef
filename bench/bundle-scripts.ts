/**
 * The scripts the bench starts, bundled with esbuild into dist/bench: Node servers (the
 * upstream, the seed design's Express server) and Workers that import the gateway's own
 * functions from src/ (the forwarding floor, the forwarding variants). Each command bundles
 * what it starts when it starts it, so the npm scripts and the smoke test need no build step.
 */
import path from "node:path";
import { build } from "esbuild";
import { ROOT } from "../test/support/build-worker";

const BENCH_DIST = path.join(ROOT, "dist/bench");

/** Where `bundleScripts` writes the entry `name`. */
export function benchScript(name: string): string {
  return path.join(BENCH_DIST, `${name}.mjs`);
}

/**
 * Bundle `entries` (output name → source path from the repository root) for Node, whose
 * packages stay external, or for workerd, with jose and src/ bundled in.
 */
export async function bundleScripts(target: "node" | "workerd", entries: Record<string, string>): Promise<void> {
  await build({
    entryPoints: entries,
    absWorkingDir: ROOT,
    outdir: BENCH_DIST,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    format: "esm",
    logLevel: "warning",
    ...(target === "node"
      ? { platform: "node", target: "node22", packages: "external" }
      : { platform: "browser", conditions: ["workerd", "worker"] }),
  });
}
