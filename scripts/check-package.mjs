#!/usr/bin/env node
// Checks what `npm pack` would publish, as `npm test` does: packs once (prepack builds
// dist/package), runs publint and @arethetypeswrong/cli on that tarball, and prints the
// tarball's size and each entry point's, raw and gzipped:
//   own   the entry and the chunks it loads, as shipped (hono and jose not counted)
//   app   what it adds to an app: bundled with its dependencies and minified
//
//   npm run check:package             # exits non-zero on any publint or attw problem
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const root = path.resolve(import.meta.dirname, "..");
const bin = (name) => path.join(root, "node_modules/.bin", name);
const ENTRY_POINTS = {
  ".": "index.js",
  "./hono": "hono/index.js",
  "./client": "client/index.js",
  "./client/axios": "client/axios.js",
};

/** Packs the repository into `destination` and returns the tarball's path. */
export function packInto(destination) {
  const output = execFileSync("npm", ["pack", "--json", "--pack-destination", destination], {
    cwd: root,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  const [{ filename }] = JSON.parse(output.slice(output.indexOf("[")));
  return path.join(destination, filename);
}

const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;
const describe = (contents) => `${contents.length} B (${kib(contents.length)}), gzip ${gzipSync(contents).length} B`;

async function entrySizes(entry) {
  const file = path.join(root, "dist/package", entry);
  const common = { entryPoints: [file], bundle: true, write: false, format: "esm", logLevel: "silent" };
  const own = await build({ ...common, packages: "external", external: ["cloudflare:*"] });
  const app = await build({ ...common, minify: true, external: ["cloudflare:*"], platform: "neutral" });
  return { own: own.outputFiles[0].contents, app: app.outputFiles[0].contents };
}

const work = mkdtempSync(path.join(tmpdir(), "portcullis-pack-"));
try {
  const tarball = packInto(work);
  execFileSync(bin("publint"), ["run", "--strict", "--pack", "false"], { cwd: root, stdio: "inherit" });
  execFileSync(bin("attw"), [tarball, "--profile", "esm-only", "--quiet"], { cwd: root, stdio: "inherit" });
  console.log("attw: no problems (profile esm-only: Node ESM and bundlers)");
  console.log(`tarball ${path.basename(tarball)}: ${statSync(tarball).size} B (${kib(statSync(tarball).size)})`);
  for (const [name, entry] of Object.entries(ENTRY_POINTS)) {
    const { own, app } = await entrySizes(entry);
    console.log(`  ${`portcullis${name.slice(1)}`.padEnd(24)} own ${describe(own)}`);
    console.log(`  ${"".padEnd(24)} app ${describe(app)}`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
