/**
 * `npm run bench:variants`: what each piece of forwarding costs in workerd, in process
 * CPU per request against a bare pass-through: re-wrapping the answer (alone, and with
 * the hop-by-hop deletes and X-Request-Id), only asking whether hop-by-hop headers are
 * there, the timer that bounds the upstream wait, and building the upstream
 * headers (as a record, or as edits of a native copy), and all of the gateway's pieces
 * together. Each variant runs in a workerd of its own; rows are measured in interleaved
 * rounds, alternating order, and summed up by the median of same-round differences.
 *
 *   npm run bench:variants -- [--rounds 8] [--duration 4] [--connections 32] [--variants timer,record] [--edge-headers]
 */
import path from "node:path";
import { parseArgs } from "node:util";
import { ROOT } from "../../test/support/build-worker";
import { startLoneWorker } from "../bench-gateway";
import { runLoad } from "../load";
import { installExitHooks, startNodeChild } from "../processes";
import { median } from "../rounds";

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
  "read-only",
  "record-plain",
  "record-foreach",
  "copy",
  "request-edit",
  "ed25519-sign",
  "ed25519-verify",
  "jose-sign",
  "jose-compact-sign",
  "jose-verify",
  "log-line",
  "all",
] as const;
const chosen = values.variants?.split(",").map((name) => name.trim());
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

const cleanups: Array<() => Promise<void>> = [];
installExitHooks(async () => {
  for (const step of cleanups.splice(0).reverse()) await step().catch(() => undefined);
});

const upstream = await startNodeChild(path.join(ROOT, "dist/bench/upstream-server.mjs"));
cleanups.push(() => upstream.stop());
const servers = new Map<string, { url: string; pid: number; cpu: number[]; rate: number[] }>();
for (const variant of VARIANTS) {
  const served = await startLoneWorker(path.join(ROOT, "dist/bench/variant-worker.mjs"), {
    UPSTREAM_URL: upstream.ready.url as string,
    VARIANT: variant,
  });
  cleanups.push(() => served.stop());
  servers.set(variant, { url: served.url, pid: served.pid, cpu: [], rate: [] });
}

const load = (variant: string, seconds: number) => {
  const server = servers.get(variant) as { url: string; pid: number };
  return runLoad({
    url: server.url,
    connections,
    durationSeconds: seconds,
    requests: [{ method: "GET", path: "/api/items?page=1", headers: REQUEST_HEADERS }],
    serverPid: server.pid,
    upstreamPid: upstream.pid,
  });
};
for (const variant of VARIANTS) await load(variant, 1);
for (let round = 0; round < rounds; round++) {
  for (const variant of round % 2 === 0 ? VARIANTS : [...VARIANTS].reverse()) {
    const result = await load(variant, durationSeconds);
    if (result.errors > 0) throw new Error(`${variant}: ${result.errors} errors ${JSON.stringify(result.statusCodes)}`);
    servers.get(variant)?.cpu.push(result.serverCpuMicros);
    servers.get(variant)?.rate.push(result.requestsPerSecond);
  }
}

const bare = servers.get("bare")?.cpu ?? [];
const bareRate = servers.get("bare")?.rate ?? [];
const lines = [
  `${rounds} rounds of ${durationSeconds} s at ${connections} connections; CPU µs/request of each variant's workerd`,
  "",
  "| variant | CPU µs/req (median) | added vs bare (median of same-round differences) | req/s × bare (median of same-round ratios) | CPU by round |",
  "| --- | ---: | ---: | ---: | --- |",
];
for (const [variant, server] of servers) {
  const added = median(server.cpu.map((cpu, index) => cpu - (bare[index] ?? Number.NaN)));
  const ratio = median(server.rate.map((rate, index) => rate / (bareRate[index] ?? Number.NaN)));
  lines.push(
    `| ${variant} | ${median(server.cpu).toFixed(0)} | ${variant === "bare" ? "—" : `${added >= 0 ? "+" : ""}${added.toFixed(1)}`} | ${ratio.toFixed(2)} | ${server.cpu.map((cpu) => cpu.toFixed(0)).join(", ")} |`,
  );
}
process.stdout.write(`${lines.join("\n")}\n`);
for (const step of cleanups.splice(0).reverse()) await step().catch(() => undefined);
process.exit(0);
