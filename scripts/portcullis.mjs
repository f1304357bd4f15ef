#!/usr/bin/env node
// The `portcullis` command: check, explain and test-routes (src/cli/main.ts;
// docs/configuration.md, "Checking your configuration").
//
//   npx portcullis check --env production
//
// From the package it runs the build `npm pack` ships (dist/package/cli/main.js). In the
// repository, where src/ is, it bundles src/cli/main.ts for Node first (esbuild, a
// devDependency here) into dist/cli/, and again whenever a file under src/ is newer: so
// `node scripts/portcullis.mjs check --env production` works in a fresh clone and never runs
// a stale build.
import { existsSync, mkdirSync, readdirSync, renameSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const source = path.join(root, "src/cli/main.ts");

/** The newest modification time of any file under `dir`. */
function newest(dir) {
  let time = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    time = Math.max(time, entry.isDirectory() ? newest(full) : statSync(full).mtimeMs);
  }
  return time;
}

/** The CLI bundled from source, rebuilt when src/ changed; written aside and renamed, so runs in parallel are safe. */
async function fromSource() {
  const bundle = path.join(root, "dist/cli/main.mjs");
  if (existsSync(bundle) && statSync(bundle).mtimeMs >= newest(path.join(root, "src"))) return bundle;
  const { buildCli } = await import("./build-package.mjs");
  mkdirSync(path.dirname(bundle), { recursive: true });
  const written = await buildCli(path.join(root, `dist/cli/main-${process.pid}.mjs`));
  renameSync(written, bundle);
  return bundle;
}

const entry = existsSync(source) ? await fromSource() : path.join(root, "dist/package/cli/main.js");
const { main } = await import(pathToFileURL(entry).href);
process.exitCode = await main(process.argv.slice(2));
