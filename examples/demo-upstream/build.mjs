// Builds the demo page into dist/demo-site/demo/, which the demo upstream serves as static
// assets at /demo/ (a public route in the dev config): the page's script, the SDK as its
// own module (the page imports "portcullis/client" through an import map, as an app
// would), and the HTML and CSS as they are. `npm run dev` and the browser tests run this.
import { copyFile, mkdir } from "node:fs/promises";
import path from "node:path";
import { build } from "esbuild";

const root = path.resolve(import.meta.dirname, "../..");
const page = path.join(import.meta.dirname, "page");
const outdir = path.join(root, "dist/demo-site/demo");

export async function buildDemo() {
  await mkdir(outdir, { recursive: true });
  const common = { bundle: true, format: "esm", target: "es2022", sourcemap: true, logLevel: "warning" };
  await build({
    ...common,
    entryPoints: [path.join(root, "src/client/index.ts")],
    outfile: path.join(outdir, "portcullis-client.js"),
  });
  await build({
    ...common,
    entryPoints: [path.join(page, "demo.ts")],
    outfile: path.join(outdir, "demo.js"),
    external: ["portcullis/client"],
  });
  await Promise.all(["index.html", "demo.css"].map((name) => copyFile(path.join(page, name), path.join(outdir, name))));
  return outdir;
}

if (process.argv[1] === import.meta.filename) await buildDemo();
