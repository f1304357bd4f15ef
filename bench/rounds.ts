/**
 * Interleaved rounds: every selected row is measured `rounds` times, one after another
 * (bare, public, valid, bare, public, valid, …), and each row is summed up by medians.
 *
 * On a shared machine the noise comes in waves (another process, a GC of the workerd
 * heap, the CPU's clock): measured back to back, two rows see the same wave; measured a
 * minute apart, they do not. So a row's added cost is the median, over rounds, of its
 * cost minus its baseline's in the *same* round, and its throughput ratio likewise.
 * One round is the plain sequential run.
 */
import type { BindingCounts } from "./binding-counts";
import type { LoadResult } from "./load";

export interface RoundsSummary {
  /** The row as one result: counts summed, rates and latencies the rounds' medians. */
  readonly result: LoadResult;
  /** Median over rounds of (this row − baseline) CPU per request, µs. */
  readonly addedCpuMicros: number | undefined;
  /** Median over rounds of (this row − baseline) mean latency, ms. */
  readonly addedLatencyMs: number | undefined;
  /** Median over rounds of this row's req/s over the bare row's in the same round. */
  readonly ratioToBare: number;
  /** Each round's CPU per request, µs, in order (the spread shows how noisy the run was). */
  readonly cpuByRound: readonly number[];
  /** Each round's requests per second, in order. */
  readonly rpsByRound: readonly number[];
}

/**
 * Measure every row `rounds` times, every other round in reverse order, so that a drift
 * over the run does not favour the rows measured first.
 */
export async function inRounds<Row>(
  rows: readonly Row[],
  rounds: number,
  measure: (row: Row) => Promise<void>,
  log: (line: string) => void,
): Promise<void> {
  for (let round = 1; round <= rounds; round++) {
    if (rounds > 1) log(`round ${round} of ${rounds}`);
    for (const row of round % 2 === 1 ? rows : [...rows].reverse()) await measure(row);
  }
}

export function median(values: readonly number[]): number {
  const finite = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (finite.length === 0) return Number.NaN;
  const middle = Math.floor(finite.length / 2);
  return finite.length % 2 === 1
    ? (finite[middle] as number)
    : ((finite[middle - 1] as number) + (finite[middle] as number)) / 2;
}

/** One row's rounds as a single result. */
export function combineRounds(rounds: readonly LoadResult[]): LoadResult {
  const statusCodes: Record<string, number> = {};
  for (const round of rounds) {
    for (const [code, count] of Object.entries(round.statusCodes)) statusCodes[code] = (statusCodes[code] ?? 0) + count;
  }
  const pick = (field: keyof LoadResult) => median(rounds.map((round) => round[field] as number));
  return {
    requests: rounds.reduce((sum, round) => sum + round.requests, 0),
    seconds: rounds.reduce((sum, round) => sum + round.seconds, 0),
    requestsPerSecond: pick("requestsPerSecond"),
    latencyP50: pick("latencyP50"),
    latencyP99: pick("latencyP99"),
    latencyMean: pick("latencyMean"),
    errors: rounds.reduce((sum, round) => sum + round.errors, 0),
    statusCodes,
    serverCpuMicros: pick("serverCpuMicros"),
    upstreamCpuMicros: pick("upstreamCpuMicros"),
    serverPeakBytes: Math.max(...rounds.map((round) => round.serverPeakBytes)),
  };
}

/** Paired differences, round by round, summed up by their median. */
function pairedMedian(
  rows: readonly LoadResult[],
  baseline: readonly LoadResult[],
  difference: (row: LoadResult, base: LoadResult) => number,
): number {
  return median(rows.map((row, index) => difference(row, baseline[index] as LoadResult)));
}

export function summarizeRounds(
  rounds: readonly LoadResult[],
  baseline: readonly LoadResult[] | undefined,
  bare: readonly LoadResult[] | undefined,
): RoundsSummary {
  return {
    result: combineRounds(rounds),
    addedCpuMicros:
      baseline === undefined
        ? undefined
        : pairedMedian(rounds, baseline, (row, base) => row.serverCpuMicros - base.serverCpuMicros),
    addedLatencyMs:
      baseline === undefined
        ? undefined
        : pairedMedian(rounds, baseline, (row, base) => row.latencyMean - base.latencyMean),
    ratioToBare:
      bare === undefined
        ? Number.NaN
        : pairedMedian(rounds, bare, (row, base) => row.requestsPerSecond / base.requestsPerSecond),
    cpuByRound: rounds.map((round) => round.serverCpuMicros),
    rpsByRound: rounds.map((round) => round.requestsPerSecond),
  };
}

/** One row over another, round by round: median added CPU (µs) and median req/s ratio. */
export function overRow(
  row: { readonly cpuByRound: readonly number[]; readonly rpsByRound: readonly number[] },
  base: { readonly cpuByRound: readonly number[]; readonly rpsByRound: readonly number[] },
): { addedCpuMicros: number; ratio: number } {
  const pairs = row.cpuByRound.map((_, index) => index).filter((index) => index < base.cpuByRound.length);
  return {
    addedCpuMicros: median(
      pairs.map((index) => (row.cpuByRound[index] as number) - (base.cpuByRound[index] as number)),
    ),
    ratio: median(pairs.map((index) => (row.rpsByRound[index] as number) / (base.rpsByRound[index] as number))),
  };
}

/** Binding operations of several rounds, added up. */
export function addCounts(total: BindingCounts | undefined, more: BindingCounts): BindingCounts {
  if (total === undefined) return { ...more };
  return {
    kvReads: total.kvReads + more.kvReads,
    kvWrites: total.kvWrites + more.kvWrites,
    kvDeletes: total.kvDeletes + more.kvDeletes,
    kvLists: total.kvLists + more.kvLists,
    doRequests: total.doRequests + more.doRequests,
    doStorageWrites: total.doStorageWrites + more.doStorageWrites,
  };
}
