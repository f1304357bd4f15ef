#!/usr/bin/env node
// Checks what `npm pack` would publish, as `npm test` does: first that package-lock.json's
// root entry says what package.json says (else `npm install` in a fresh clone rewrites the
// lock), then packs once (prepack builds dist/package), runs publint and
// @arethetypeswrong/cli on that tarball, and prints the tarball's size and each entry
// point's, raw and gzipped:
//   own   the entry and the chunks it loads, as shipped (hono and jose not counted)
//   app   what it adds to an app: bundled with its dependencies and minified
//
//   npm run check:package             # exits non-zero on a stale lock, any publint or attw problem
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { isDeepStrictEqual } from "node:util";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const root = path.resolve(import.meta.dirname, "..");
const bin = (name) => path.join(root, "node_modules/.bin", name);
const ENTRY_POINTS = {
  ".": "index.js",
  "./hono": "hono/index.js",
  "./assertion": "assertion/index.js",
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

/** The fields npm copies from package.json into the lock's root entry (bin paths without "./"). */
const LOCKED_FIELDS = [
  "name",
  "version",
  "license",
  "bin",
  "engines",
  "dependencies",
  "devDependencies",
  "peerDependencies",
  "peerDependenciesMeta",
];

/** Each field where package-lock.json's root disagrees with package.json, as "field: lock … , package.json …". */
function lockMismatches(manifest, lock) {
  const root = lock.packages?.[""] ?? {};
  const normalized = (field, value) =>
    field === "bin" && value !== undefined
      ? Object.fromEntries(Object.entries(value).map(([name, file]) => [name, file.replace(/^\.\//, "")]))
      : value;
  const differences = LOCKED_FIELDS.filter(
    (field) => !isDeepStrictEqual(normalized(field, manifest[field]), root[field]),
  ).map((field) => `${field}: lock ${JSON.stringify(root[field])}, package.json ${JSON.stringify(manifest[field])}`);
  for (const field of ["name", "version"]) {
    if (lock[field] !== manifest[field])
      differences.push(`top-level ${field}: lock ${lock[field]}, package.json ${manifest[field]}`);
  }
  return differences;
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

const readJson = (file) => JSON.parse(readFileSync(path.join(root, file), "utf8"));
const stale = lockMismatches(readJson("package.json"), readJson("package-lock.json"));
if (stale.length > 0) {
  console.error("package-lock.json disagrees with package.json (run `npm install` and commit the lock):");
  for (const line of stale) console.error(`  ${line}`);
  process.exit(1);
}
console.log("package-lock.json: its root entry matches package.json");

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
