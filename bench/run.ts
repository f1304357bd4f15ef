/**
 * `npm run bench`: the end-to-end benchmark. Prints the table (Markdown) on stdout and
 * writes docs/benchmarks.json and docs/benchmarks.svg.
 *
 *   npm run bench                     full run (12 s per row, 100 MiB transfers)
 *   npm run bench -- --smoke          a few requests per connection per row (each row fails
 *                                     after --duration, default 60 s), writes nothing
 *   npm run bench -- --duration 20 --connections 64 --out /tmp/bench
 *   npm run bench -- --soak 60        public, valid and refresh rows, 60 s each; writes nothing
 *   npm run bench -- --rows bare,gateway-valid --duration 6   a subset, writes nothing
 *   npm run bench -- --rounds 5 --duration 4   every row five times, interleaved (medians)
 *   npm run bench -- --pin            the server under test on a CPU of its own (taskset)
 *   npm run bench -- --builds main,.  also the Worker built at main and the working tree, each
 *                                     in a workerd of its own (rows ending in @main, @.)
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
    soak: { type: "string" },
    rows: { type: "string" },
    rounds: { type: "string" },
    builds: { type: "string" },
    pin: { type: "boolean", default: false },
  },
});
const smoke = values.smoke ?? false;
const number = (value: string | undefined) => (value === undefined ? undefined : Number(value));
const soakSeconds = number(values.soak);
const rows = values.rows?.split(",").map((id) => id.trim());
const partial = smoke || soakSeconds !== undefined || rows !== undefined;
const outDir = values.out ?? (partial ? undefined : path.join(ROOT, "docs"));

const result = await runBench({
  smoke,
  durationSeconds: number(values.duration),
  connections: number(values.connections),
  rounds: number(values.rounds),
  pin: values.pin ?? false,
  ...(values.builds === undefined ? {} : { builds: values.builds.split(",").map((ref) => ref.trim()) }),
  ...(soakSeconds === undefined ? {} : { soakSeconds }),
  ...(rows === undefined ? {} : { rows }),
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
