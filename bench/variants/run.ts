/**
 * `npm run bench:variants`: what each piece of forwarding costs in workerd, in process
 * CPU per request against a bare pass-through: re-wrapping the answer and the ways of
 * filtering it, the timer that bounds the upstream wait and its alternatives, the ways of
 * building the upstream headers, a refresh's cryptography and log line, and all of the
 * forwarding together (the floor). Each variant of variant-worker.js runs in a workerd of
 * its own; rows are measured in interleaved rounds (bench/rounds.ts) and summed up by the
 * median of same-round differences.
 *
 *   npm run bench:variants -- [--rounds 8] [--duration 4] [--connections 32] [--variants timer,record] [--edge-headers]
 */
import { parseArgs } from "node:util";
import { startBenchUpstream, startLoneWorker } from "../bench-gateway";
import { benchScript, bundleScripts } from "../bundle-scripts";
import { runLoad } from "../load";
import { atCleanUp, cleanUp } from "../processes";
import { inRounds, median, overRow } from "../rounds";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "8" },
    duration: { type: "string", default: "4" },
    connections: { type: "string", default: "32" },
    /** A subset, comma-separated ("bare" is always measured: it is the floor). */
    variants: { type: "string" },
    /** Requests also carry what Cloudflare's edge adds to every request that reaches a Worker. */
    "edge-headers": { type: "boolean", default: false },
  },
});
const rounds = Number(values.rounds);
const durationSeconds = Number(values.duration);
const connections = Number(values.connections);
/** Every variant of variant-worker.js; each backs a figure in docs/benchmarks.md. */
const ALL_VARIANTS = [
  "bare",
  "rewrap-only",
  "rewrap",
  "answer-before",
  "answer-filter",
  "answer-pass",
  "probe",
  "timer",
  "timer-unclear",
  "signal-timeout",
  "record",
  "copy",
  "request-edit",
  "ed25519-sign",
  "ed25519-verify",
  "jose-sign",
  "jose-compact-sign",
  "jose-verify",
  "log-line",
  "all",
];
const chosen = values.variants?.split(",").map((name) => name.trim());
const unknown = chosen?.filter((name) => !ALL_VARIANTS.includes(name)) ?? [];
if (unknown.length > 0) {
  process.stderr.write(`unknown variants: ${unknown.join(", ")} (known: ${ALL_VARIANTS.join(", ")})\n`);
  process.exit(2);
}
const VARIANTS = ALL_VARIANTS.filter((name) => name === "bare" || chosen === undefined || chosen.includes(name));
const TOKEN = `eyJhbGciOiJFZERTQSJ9.${"a".repeat(300)}.${"b".repeat(86)}`;
/** The headers a request reaching a Worker in production carries besides the client's own. */
const EDGE_HEADERS: Record<string, string> = {
  "cf-connecting-ip": "203.0.113.7",
  "cf-ipcountry": "DE",
  "cf-ray": "8f2b3c4d5e6f7a8b-FRA",
  "cf-visitor": '{"scheme":"https"}',
  "x-forwarded-for": "203.0.113.7",
  "x-forwarded-proto": "https",
  "x-real-ip": "203.0.113.7",
  "accept-encoding": "gzip, br",
};
const REQUEST_HEADERS = { authorization: `Bearer ${TOKEN}`, ...(values["edge-headers"] ? EDGE_HEADERS : {}) };
const log = (line: string) => process.stderr.write(`${line}\n`);

await bundleScripts("workerd", { "variant-worker": "bench/variants/variant-worker.js" });
const upstream = await startBenchUpstream();
atCleanUp(() => upstream.stop());
interface Server {
  readonly variant: string;
  readonly url: string;
  readonly pid: number;
  readonly cpuByRound: number[];
  readonly rpsByRound: number[];
}
const servers: Server[] = [];
for (const variant of VARIANTS) {
  const served = await startLoneWorker(benchScript("variant-worker"), {
    UPSTREAM_URL: upstream.ready.url as string,
    VARIANT: variant,
  });
  atCleanUp(() => served.stop());
  servers.push({ variant, url: served.url, pid: served.pid, cpuByRound: [], rpsByRound: [] });
}

const load = (server: Server, seconds: number) =>
  runLoad({
    url: server.url,
    connections,
    durationSeconds: seconds,
    requests: [{ method: "GET", path: "/api/items?page=1", headers: REQUEST_HEADERS }],
    serverPid: server.pid,
    upstreamPid: upstream.pid,
  });
for (const server of servers) await load(server, 1);
await inRounds(
  servers,
  rounds,
  async (server) => {
    const result = await load(server, durationSeconds);
    if (result.errors > 0) {
      throw new Error(`${server.variant}: ${result.errors} errors ${JSON.stringify(result.statusCodes)}`);
    }
    server.cpuByRound.push(result.serverCpuMicros);
    server.rpsByRound.push(result.requestsPerSecond);
  },
  log,
);

const bare = servers[0] as Server;
const lines = [
  `${rounds} rounds of ${durationSeconds} s at ${connections} connections; CPU µs/request of each variant's workerd`,
  "",
  "| variant | CPU µs/req (median) | added vs bare (median of same-round differences) | req/s × bare (median of same-round ratios) | CPU by round |",
  "| --- | ---: | ---: | ---: | --- |",
];
for (const server of servers) {
  const { addedCpuMicros: added, ratio } = overRow(server, bare);
  lines.push(
    `| ${server.variant} | ${median(server.cpuByRound).toFixed(0)} | ${server === bare ? "—" : `${added >= 0 ? "+" : ""}${added.toFixed(1)}`} | ${ratio.toFixed(2)} | ${server.cpuByRound.map((cpu) => cpu.toFixed(0)).join(", ")} |`,
  );
}
process.stdout.write(`${lines.join("\n")}\n`);
await cleanUp();
process.exit(0);
