/** What a benchmark run produces, and the Markdown table docs/benchmarks.md shows. */
import type { BindingCounts } from "./binding-counts";
import type { LoadResult } from "./load";
import { overRow } from "./rounds";

/** The rows of bench/floor-worker.js (the forwarding the gateway's contract requires, without token work): in the shared workerd, and alone. */
export const FLOOR_ROW = "floor";
export const FLOOR_OWN_ROW = "floor-own";

export interface RowResult extends LoadResult {
  readonly id: string;
  readonly label: string;
  /** Which process `serverCpuMicros` and `serverPeakBytes` describe. */
  readonly server: "upstream" | "workerd" | "node (express)";
  /** The row this one adds cost to (bare for Workers, the plain proxy for the seed). */
  readonly baseline: string | undefined;
  readonly ratioToBare: number;
  /** serverCpuMicros minus the baseline's. */
  readonly addedCpuMicros: number | undefined;
  /** Mean latency minus the baseline's, ms. */
  readonly addedLatencyMs: number | undefined;
  /** CPU per request of each round (one entry without `--rounds`). */
  readonly cpuByRound: readonly number[];
  /** Requests per second of each round. */
  readonly rpsByRound: readonly number[];
  /** KV and Durable Object operations per request, counted in workerd (gateway rows). */
  readonly bindingOps: BindingCounts | undefined;
}

export interface TransferResult {
  readonly direction: "upload" | "download";
  readonly bytes: number;
  readonly seconds: number;
  readonly ok: boolean;
  /** workerd RSS before, and its peak during the transfer, bytes. */
  readonly rssBefore: number;
  readonly peak: number;
}

export interface BenchResult {
  readonly startedAt: string;
  readonly options: {
    smoke: boolean;
    soak: boolean;
    durationSeconds: number;
    rounds: number;
    /** The server under test had a CPU of its own. */
    pinned: boolean;
    connections: number;
    transferBytes: number;
  };
  /** The Worker bundle `wrangler deploy --dry-run` wrote, and its gzipped size (what the platform limits). */
  readonly bundle: { readonly bytes: number; readonly gzipBytes: number };
  readonly rows: RowResult[];
  readonly transfers: TransferResult[];
  /** Peak RSS of the gateway's workerd over the whole run, bytes. */
  readonly gatewayPeakBytes: number;
  readonly sessionsCreated: number;
  readonly sessionSetupSeconds: number;
  readonly machine: MachineInfo;
}

export interface MachineInfo {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryBytes: number;
  /** 1-minute load average when the run started and when it ended (other processes show here). */
  readonly loadAtStart: number;
  readonly loadAtEnd: number;
  readonly node: string;
  readonly workerd: string;
  readonly miniflare: string;
}

export function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

export function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** The result as the Markdown table docs/benchmarks.md shows. */
export function formatTable(bench: BenchResult): string {
  const lines = [
    "| row | req/s | × bare | p50 ms | p99 ms | errors | server CPU µs/req | added CPU µs/req | added mean latency ms | server peak RSS |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const row of bench.rows) {
    const added = (value: number | undefined, digits: number) =>
      value === undefined ? "—" : `${value >= 0 ? "+" : ""}${value.toFixed(digits)}`;
    lines.push(
      `| ${row.label} | ${row.requestsPerSecond.toFixed(0)} | ${Number.isFinite(row.ratioToBare) ? row.ratioToBare.toFixed(2) : "—"} | ${row.latencyP50} | ${row.latencyP99} | ${row.errors} | ${row.serverCpuMicros.toFixed(0)} (${row.server}) | ${added(row.addedCpuMicros, 0)} | ${added(row.addedLatencyMs, 2)} | ${mib(row.serverPeakBytes)} |`,
    );
  }
  if (bench.options.rounds > 1) {
    lines.push("");
    lines.push(
      `${bench.options.rounds} interleaved rounds of ${bench.options.durationSeconds} s; each row's CPU per request by round (µs), and the added CPU is the median of same-round differences:`,
    );
    lines.push("");
    lines.push("| row | CPU µs/req by round |");
    lines.push("| --- | --- |");
    for (const row of bench.rows) {
      lines.push(`| ${row.label} | ${row.cpuByRound.map((cpu) => cpu.toFixed(0)).join(", ")} |`);
    }
  }
  const floors = [
    [bench.rows.find((row) => row.id === FLOOR_ROW), /^gateway-valid$/],
    [bench.rows.find((row) => row.id === FLOOR_OWN_ROW), /^gateway-valid@/],
  ] as const;
  if (floors.some(([floor]) => floor !== undefined)) {
    lines.push("");
    lines.push(
      "Valid-token rows over the forwarding floor in the same setting (the shared workerd, or a workerd of its own), the medians of same-round differences and ratios: what the token work adds to the forwarding every answer needs.",
    );
    lines.push("");
    lines.push("| row | floor | added CPU µs/req over the floor | req/s × floor |");
    lines.push("| --- | --- | ---: | ---: |");
    for (const [floor, rows] of floors) {
      if (floor === undefined) continue;
      for (const row of bench.rows.filter((candidate) => rows.test(candidate.id))) {
        const over = overRow(row, floor);
        const sign = over.addedCpuMicros >= 0 ? "+" : "";
        lines.push(
          `| ${row.label} | ${floor.id} | ${sign}${over.addedCpuMicros.toFixed(0)} | ${over.ratio.toFixed(2)} |`,
        );
      }
    }
  }
  lines.push("");
  lines.push("| gateway row | KV reads/req | KV writes/req | DO requests/req | DO storage writes/req |");
  lines.push("| --- | ---: | ---: | ---: | ---: |");
  for (const row of bench.rows) {
    const ops = row.bindingOps;
    if (ops === undefined) continue;
    const cell = (value: number) => (value === 0 ? "0" : value.toFixed(3));
    lines.push(
      `| ${row.label} | ${cell(ops.kvReads)} | ${cell(ops.kvWrites)} | ${cell(ops.doRequests)} | ${cell(ops.doStorageWrites)} |`,
    );
  }
  lines.push("");
  lines.push("| transfer through the gateway | size | time | ok | workerd RSS before | workerd peak RSS |");
  lines.push("| --- | ---: | ---: | --- | ---: | ---: |");
  for (const item of bench.transfers) {
    lines.push(
      `| ${item.direction} | ${mib(item.bytes)} | ${item.seconds.toFixed(2)} s | ${item.ok ? "yes" : "no"} | ${mib(item.rssBefore)} | ${mib(item.peak)} |`,
    );
  }
  lines.push("");
  lines.push(`Peak RSS of the gateway's workerd over the whole run: ${mib(bench.gatewayPeakBytes)}.`);
  lines.push(
    `Worker bundle (\`wrangler deploy --dry-run --env production\`): ${kib(bench.bundle.bytes)}, gzip ${kib(bench.bundle.gzipBytes)}.`,
  );
  if (bench.options.soak) {
    const requests = bench.rows.reduce((sum, row) => sum + row.requests, 0);
    const errors = bench.rows.reduce((sum, row) => sum + row.errors, 0);
    lines.push(
      `Soak: ${bench.rows.map((row) => row.id).join(", ")}; ${bench.options.smoke ? "smoke-sized" : `${bench.options.durationSeconds} s each`} at ${bench.options.connections} connections; ${requests} requests, ${errors} errors (non-2xx + connection errors + timeouts).`,
    );
  }
  const { machine } = bench;
  lines.push(
    `Machine: ${machine.cpus} × ${machine.cpuModel}, ${mib(machine.memoryBytes)} RAM; load average ${machine.loadAtStart.toFixed(2)} at start, ${machine.loadAtEnd.toFixed(2)} at end; Node ${machine.node}, workerd ${machine.workerd}, miniflare ${machine.miniflare}. Sessions created up front: ${bench.sessionsCreated} in ${bench.sessionSetupSeconds.toFixed(1)} s.`,
  );
  return lines.join("\n");
}
