#!/usr/bin/env node
// Builds what `npm pack` ships into dist/package/ (run by `prepack`):
//
//   index.js        "portcullis"               the standalone Worker and its SessionObject
//   hono/index.js   "portcullis/hono"          the middleware for your own Hono app
//   assertion/index.js "portcullis/assertion"  the upstream's check of the signed assertion (any runtime)
//   client/index.js "portcullis/client"        the browser SDK
//   client/axios.js "portcullis/client/axios"  its axios adapter
//   cli/main.js     the `portcullis` command (bin: scripts/portcullis.mjs), built for Node
//
// The JavaScript is bundled by esbuild with code splitting, so the entry points share one
// copy of each module (one SessionObject class, one config cache); hono and jose stay
// imports of the package's dependencies. Types are tsc's declarations; tsc keeps our
// extensionless relative imports as written, so they get their ".js" here, which Node's
// ESM resolution (and so `moduleResolution: node16`) needs.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { build } from "esbuild";

const root = path.resolve(import.meta.dirname, "..");
export const PACKAGE_DIR = path.join(root, "dist/package");

const ENTRY_POINTS = [
  "src/index.ts",
  "src/hono/index.ts",
  "src/assertion/index.ts",
  "src/client/index.ts",
  "src/client/axios.ts",
];

const RELATIVE_SPECIFIER = /((?:from|import)\s*\(?\s*)(["'])(\.{1,2}\/[^"']*)\2/g;

/** `./x` → `./x.js` or `./x/index.js`, whichever declaration file exists next to `file`. */
function withExtension(file, specifier) {
  if (/\.(js|mjs|cjs|json)$/.test(specifier)) return specifier;
  const target = path.resolve(path.dirname(file), specifier);
  if (existsSync(`${target}.d.ts`)) return `${specifier}.js`;
  if (existsSync(path.join(target, "index.d.ts"))) return `${specifier}/index.js`;
  throw new Error(`${path.relative(root, file)}: cannot resolve "${specifier}"`);
}

function declarationFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return declarationFiles(full);
    return full.endsWith(".d.ts") ? [full] : [];
  });
}

/**
 * The `portcullis` command (src/cli/main.ts) bundled for Node into `outfile`: its own build,
 * as it runs in Node rather than in a Worker. jose, hono and wrangler (the user's own,
 * imported when a command reads the configuration) stay imports.
 */
export async function buildCli(outfile) {
  await build({
    absWorkingDir: root,
    entryPoints: ["src/cli/main.ts"],
    outfile,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    packages: "external",
    logLevel: "warning",
  });
  return outfile;
}

/**
 * The package's JavaScript, as shipped, into `outdir`: also what a test runs when it loads an
 * entry point the way a user's runtime would (test/integration/upstream-assertion-node.test.ts).
 */
export async function bundleEntryPoints(outdir) {
  await build({
    absWorkingDir: root,
    entryPoints: ENTRY_POINTS,
    outbase: "src",
    outdir,
    entryNames: "[dir]/[name]",
    chunkNames: "chunks/[name]-[hash]",
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    packages: "external",
    external: ["cloudflare:*"],
    logLevel: "warning",
  });
  return outdir;
}

export async function buildPackage() {
  rmSync(PACKAGE_DIR, { recursive: true, force: true });
  await bundleEntryPoints(PACKAGE_DIR);
  await buildCli(path.join(PACKAGE_DIR, "cli/main.js"));
  const tsc = path.join(root, "node_modules/.bin/tsc");
  const declarations = ["--noEmit", "false", "--declaration", "--emitDeclarationOnly"];
  execFileSync(tsc, ["-p", "tsconfig.package.json", ...declarations, "--outDir", PACKAGE_DIR], { cwd: root });
  const clientOut = path.join(PACKAGE_DIR, "client");
  execFileSync(tsc, ["-p", "tsconfig.client.json", ...declarations, "--outDir", clientOut], { cwd: root });
  for (const file of declarationFiles(PACKAGE_DIR)) {
    const text = readFileSync(file, "utf8");
    const fixed = text.replace(RELATIVE_SPECIFIER, (_, prefix, quote, specifier) => {
      return `${prefix}${quote}${withExtension(file, specifier)}${quote}`;
    });
    if (fixed !== text) writeFileSync(file, fixed);
  }
  return PACKAGE_DIR;
}

if (process.argv[1] === import.meta.filename) await buildPackage();
