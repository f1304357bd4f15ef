/**
 * `npm run bench`: the end-to-end benchmark. Prints the table (Markdown) on stdout and
 * writes docs/benchmarks.json and docs/benchmarks.svg.
 *
 *   npm run bench                     full run (12 s per row, 100 MiB transfers)
 *   npm run bench -- --smoke          a few seconds per row, writes nothing
 *   npm run bench -- --duration 20 --connections 64 --out /tmp/bench
 */
import path from "node:path";
import { parseArgs } from "node:util";
import { ROOT } from "../test/support/build-worker";
import { formatTable, runBench } from "./harness";

const { values } = parseArgs({
  options: {
    smoke: { type: "boolean", default: false },
    duration: { type: "string" },
    connections: { type: "string" },
    out: { type: "string" },
  },
});
const smoke = values.smoke ?? false;
const number = (value: string | undefined) => (value === undefined ? undefined : Number(value));
const outDir = values.out ?? (smoke ? undefined : path.join(ROOT, "docs"));

const result = await runBench({
  smoke,
  durationSeconds: number(values.duration),
  connections: number(values.connections),
  outDir,
});
process.stdout.write(`${formatTable(result)}\n`);
if (outDir !== undefined) process.stderr.write(`wrote ${path.relative(ROOT, outDir) || "."}/benchmarks.{json,svg}\n`);
const failed = result.rows.filter((row) => row.errors > 0 || row.requests === 0);
const transferFailed = result.transfers.filter((item) => !item.ok);
if (failed.length > 0 || transferFailed.length > 0) {
  process.stderr.write(`rows with errors: ${failed.map((row) => row.id).join(", ")}\n`);
  process.exit(1);
}
process.exit(0);
