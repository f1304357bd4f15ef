/**
 * One benchmark row: drive a URL with autocannon at fixed concurrency for a bounded time
 * (or a bounded number of requests, within a time limit), while metering the server
 * process's CPU time and peak memory from /proc.
 */
import autocannon from "autocannon";
import { ProcessMeter } from "./processes";

export interface LoadSpec {
  readonly url: string;
  readonly connections: number;
  /** Seconds; the row stops by itself after this long. */
  readonly durationSeconds: number;
  /** Stop after this many requests instead (rows that consume one session per request, smoke runs). */
  readonly amount?: number;
  /**
   * With `amount`: the most seconds the row may take. Past it the row stops and `runLoad`
   * throws, naming how many of `amount` completed: a smoke run asserts completion, not speed.
   */
  readonly limitSeconds?: number;
  readonly requests: autocannon.Request[];
  /** The process whose CPU time and peak memory the row reports (the proxy under test). */
  readonly serverPid: number;
  /** Also metered: the upstream (its share is the same for every row). */
  readonly upstreamPid: number;
}

export interface LoadResult {
  readonly requests: number;
  readonly seconds: number;
  readonly requestsPerSecond: number;
  readonly latencyP50: number;
  readonly latencyP99: number;
  readonly latencyMean: number;
  /** Connection errors + timeouts + non-2xx answers. */
  readonly errors: number;
  readonly statusCodes: Record<string, number>;
  /** CPU time of the server process per request, microseconds. */
  readonly serverCpuMicros: number;
  readonly upstreamCpuMicros: number;
  /** Peak RSS of the server process during the row, bytes. */
  readonly serverPeakBytes: number;
}

/**
 * How often autocannon looks whether the row is over (its `sampleInt`; its default is 1 s).
 * A row that ends by `amount` (smoke runs, the cost rows) otherwise sits idle until the next
 * whole second, and a 0.5 s warm-up lasts 1 s: in smoke mode that was about 1 s of each
 * row's 1.1 s, and the idle time counted in `seconds`. None of the figures we report read
 * autocannon's per-sample histograms, so sampling more often changes nothing else.
 */
const SAMPLE_INTERVAL_MS = 100;

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const server = new ProcessMeter(spec.serverPid);
  const upstream = new ProcessMeter(spec.upstreamPid);
  server.start();
  upstream.start();
  let limitReached = false;
  let limitTimer: ReturnType<typeof setTimeout> | undefined;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const options: autocannon.Options = {
      url: spec.url,
      connections: spec.connections,
      pipelining: 1,
      timeout: 10,
      sampleInt: SAMPLE_INTERVAL_MS,
      ...(spec.amount === undefined ? { duration: spec.durationSeconds } : { amount: spec.amount }),
      requests: spec.requests,
    };
    const instance = autocannon(options, (error, done) => (error ? reject(error) : resolve(done)));
    if (spec.amount !== undefined && spec.limitSeconds !== undefined) {
      limitTimer = setTimeout(() => {
        limitReached = true;
        instance.stop();
      }, spec.limitSeconds * 1000);
    }
  }).finally(() => clearTimeout(limitTimer));
  const serverUse = server.stop();
  const upstreamUse = upstream.stop();
  const completed = result.requests.total;
  const statusCodes: Record<string, number> = {};
  for (const [code, stats] of Object.entries(result.statusCodeStats ?? {})) {
    statusCodes[code] = (stats as { count: number }).count;
  }
  if (limitReached && completed < (spec.amount ?? 0)) {
    throw new Error(
      `${spec.url}: only ${completed} of ${spec.amount} requests completed within the ${spec.limitSeconds} s limit (status codes ${JSON.stringify(statusCodes)}, ${result.errors} connection errors, ${result.timeouts} timeouts)`,
    );
  }
  return {
    requests: completed,
    seconds: result.duration,
    requestsPerSecond: completed / result.duration,
    latencyP50: result.latency.p50,
    latencyP99: result.latency.p99,
    latencyMean: result.latency.average,
    errors: result.errors + result.timeouts + result.non2xx,
    statusCodes,
    serverCpuMicros: completed > 0 ? (serverUse.cpuMillis * 1000) / completed : Number.NaN,
    upstreamCpuMicros: completed > 0 ? (upstreamUse.cpuMillis * 1000) / completed : Number.NaN,
    serverPeakBytes: serverUse.peakBytes,
  };
}
