/**
 * What the repository's own files promise: the files wrangler reads local secrets from stay
 * out of git, and `wrangler.toml` builds for production without a warning the repository
 * could avoid (wrangler warns when a development setting is missing from [env.production]).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../..");

describe(".gitignore", () => {
  // `.dev.vars` for `wrangler dev`, `.dev.vars.<environment>` for `--env <environment>`.
  it.each([".dev.vars", ".dev.vars.production", ".dev.vars.staging"])("ignores %s", (file) => {
    const check = spawnSync("git", ["check-ignore", "--no-index", "--quiet", file], { cwd: ROOT });
    expect(check.status, `git check-ignore ${file}`).toBe(0);
  });
});

describe("wrangler.toml", () => {
  it("builds for production warning only of the development setup's UPSTREAM service binding", () => {
    const outdir = mkdtempSync(path.join(tmpdir(), "portcullis-build-"));
    try {
      const wrangler = createRequire(import.meta.url).resolve("wrangler/bin/wrangler.js");
      const build = spawnSync(
        process.execPath,
        [wrangler, "deploy", "--dry-run", "--env", "production", "--outdir", outdir],
        {
          cwd: ROOT,
          encoding: "utf8",
          env: { ...process.env, WRANGLER_SEND_METRICS: "false", WRANGLER_LOG: "warn", NO_COLOR: "1", CI: "true" },
        },
      );
      expect(build.status, build.stderr).toBe(0);
      const output = `${build.stdout}\n${build.stderr}`;
      expect(output.match(/WARNING/g) ?? []).toHaveLength(1);
      // Each point wrangler makes under "Processing wrangler.toml configuration" is a "- " item.
      const points = output
        .split("\n")
        .filter((line) => /^\s+- /.test(line))
        .map((line) => line.trim());
      // A service binding cannot be left out of an environment without this warning, and
      // production has no demo upstream to bind (scripts/check-deploy.mjs refuses it).
      expect(points).toEqual([
        '- "env.production" environment configuration',
        '- There is a services binding with name "UPSTREAM" at the top level, but not on "env.production".',
      ]);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  }, 60_000);
});
