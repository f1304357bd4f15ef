import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { BUNDLE, buildWorker, ROOT } from "../test/support/build-worker";
import {
  API_PATH,
  BARE_ROUTE_HOST,
  BARE_SCRIPT,
  CONDITIONS_PATH,
  createSessions,
  FLOOR_SCRIPT,
  FRESH_TOKENS,
  type IssuersGateway,
  newWorkerdPid,
  REFRESH_COOKIE_PREFIX,
  refreshSessionCount,
  rotatingRequests,
  type Session,
  STRICT_PATH,
  STRICT_SESSIONS,
  servedBy,
  sessionRequests,
  startBenchGateway,
  startBenchUpstream,
  startIssuersGateway,
  startLoneWorker,
  staticRequests,
  transfer,
  validTokenHeaders,
} from "./bench-gateway";
import { type BindingCounts, perRequest, readCounts, resetCounts } from "./binding-counts";
import { buildRows, type RowPlan, STORE_CALLS_PROBE } from "./build-rows";
import { bundleScripts } from "./bundle-scripts";
import { renderChart } from "./chart";
import { dpopClients, dpopRequests } from "./dpop-requests";
import { type LoadResult, runLoad } from "./load";
import { atCleanUp, childPidsNamed, cleanUp, memoryStatus, pinToCpus, untrackPid } from "./processes";
import {
  type BenchResult,
  FLOOR_OWN_ROW,
  FLOOR_ROW,
  formatTable,
  kib,
  mib,
  type RowResult,
  type TransferResult,
} from "./results";
import { addCounts, inRounds, summarizeRounds } from "./rounds";
import { seedRows } from "./seed-rows";
import { type SplitStores, startSplitGateway, startSplitStores } from "./split-stores";

export type { BenchResult, RowResult, TransferResult };
export { formatTable };

export interface BenchOptions {
  /**
   * The test suite's mode: each row runs until it has completed `SMOKE_REQUESTS_PER_CONNECTION`
   * requests per connection, however slow the machine, and the run fails if one takes longer
   * than `durationSeconds`. With `soakSeconds`, the soak rows, sized so.
   */
  readonly smoke?: boolean;
  /** Seconds per measured row (default 12); in smoke mode the most a row may take (default 60). */
  readonly durationSeconds?: number;
  readonly warmupSeconds?: number;
  /** Concurrent connections of the load generator (default 32). */
  readonly connections?: number;
  /** Bytes for the upload/download memory test (default 100 MiB, smoke 8 MiB). */
  readonly transferBytes?: number;
  /** Where results.json and the chart go (nothing is written when undefined). */
  readonly outDir?: string;
  /** Only these rows (ids as in the table's JSON), e.g. while profiling one change. */
  readonly rows?: readonly string[];
  /**
   * Sustained load: only the public, valid-token and refresh rows, each for this many
   * seconds (no transfers, nothing written unless `outDir` is given).
   */
  readonly soakSeconds?: number;
  /**
   * Measure every row this many times, interleaved (bench/rounds.ts): each round runs
   * every row for `durationSeconds`; a row's added CPU and ratio are medians of
   * same-round differences. Default 1.
   */
  readonly rounds?: number;
  /**
   * Git refs whose Worker each gets rows of its own (public route and valid token, ids
   * ending in `@<ref>`), each in a workerd of its own; `.` is the working tree. For
   * before-and-after figures from one run: `["main", "."]`.
   */
  readonly builds?: readonly string[];
  /**
   * Give the server under test a CPU of its own (`taskset`): the load generator and the
   * upstream run on the other CPUs. Off by default: on two CPUs the load generator then
   * has one CPU and becomes the limit of the fastest rows, which flatters every ratio to
   * bare (measured: valid token 0.83× pinned against 0.71× unpinned in the same hour).
   */
  readonly pin?: boolean;
  /** Skip `wrangler deploy --dry-run` (the bundle is already there). */
  readonly skipWorkerBuild?: boolean;
  readonly log?: (line: string) => void;
}

function packageVersion(name: string): string {
  try {
    return (
      JSON.parse(readFileSync(path.join(ROOT, "node_modules", name, "package.json"), "utf8")) as { version: string }
    ).version;
  } catch {
    return "unknown";
  }
}

const PROBE_HEADERS = {
  authorization: `Bearer ${"x".repeat(450)}`,
  cookie: `${REFRESH_COOKIE_PREFIX}${"x".repeat(66)}`,
};

/** A smoke row's requests per connection: enough to go through every path, few enough for a busy machine. */
const SMOKE_REQUESTS_PER_CONNECTION = 4;

/** The rows a soak run drives. */
const SOAK_ROWS = ["gateway-public", "gateway-valid", "gateway-refresh"];

function bundleSize(): { bytes: number; gzipBytes: number } {
  const source = readFileSync(BUNDLE);
  return { bytes: source.length, gzipBytes: gzipSync(source).length };
}

export async function runBench(options: BenchOptions = {}): Promise<BenchResult> {
  const smoke = options.smoke ?? false;
  const soak = options.soakSeconds !== undefined;
  const durationSeconds = smoke
    ? (options.durationSeconds ?? 60)
    : (options.soakSeconds ?? options.durationSeconds ?? 12);
  const warmupSeconds = options.warmupSeconds ?? (smoke ? 0.5 : 2);
  const connections = options.connections ?? 32;
  const rounds = Math.max(1, options.rounds ?? 1);
  // Sessions for each refresh row: enough for its rounds (bench-gateway.ts).
  const refreshSessions = refreshSessionCount(connections, rounds);
  const transferBytes = options.transferBytes ?? (smoke ? 8 * 1024 * 1024 : 100 * 1024 * 1024);
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const startedAt = new Date().toISOString();
  const loadAtStart = os.loadavg()[0] ?? 0;

  try {
    if (!options.skipWorkerBuild) {
      log("bundling the Worker (wrangler deploy --dry-run)…");
      buildWorker();
    }
    const bundle = bundleSize();
    log(`worker bundle: ${path.relative(ROOT, BUNDLE)}, ${kib(bundle.bytes)}, gzip ${kib(bundle.gzipBytes)}`);
    // The lone pass-through is the floor of the --builds rows: it comes with them.
    const withBuilds = (options.builds?.length ?? 0) > 0;
    const listed = (id: string) =>
      (options.rows === undefined || options.rows.includes(id)) && (!soak || SOAK_ROWS.includes(id));
    // The probe is the floor of the builds' split refresh rows: it comes with them too.
    const withBuildRefresh = (options.builds ?? []).some((ref) => listed(`gateway-refresh-split@${ref}`));
    const selected = (id: string) =>
      id === "bare-own" || id === FLOOR_OWN_ROW
        ? withBuilds
        : listed(id) || (id === STORE_CALLS_PROBE && withBuildRefresh);
    await bundleScripts("workerd", {
      "floor-worker": "bench/floor-worker.js",
      "proof-worker": "bench/proof-worker.js",
    });

    const upstream = await startBenchUpstream();
    atCleanUp(() => upstream.stop());
    const cpuCount = os.cpus().length;
    const pinned = (options.pin ?? false) && cpuCount >= 2 && pinToCpus(process.pid, `0-${cpuCount - 2}`);
    if (pinned) {
      pinToCpus(upstream.pid, `0-${cpuCount - 2}`);
      atCleanUp(async () => void pinToCpus(process.pid, `0-${cpuCount - 1}`));
    }
    const serverCpu = String(cpuCount - 1);
    log(
      pinned ? `servers under test on CPU ${serverCpu}; load and upstream on CPUs 0-${cpuCount - 2}` : "no CPU pinning",
    );
    const upstreamUrl = upstream.ready.url as string;
    log(`upstream: ${upstreamUrl} (pid ${upstream.pid})`);

    const main = await startBenchGateway(upstreamUrl, { withBare: true });
    atCleanUp(async () => {
      await main.gateway.close();
      untrackPid(main.workerdPid);
    });
    log(`workerd: pid ${main.workerdPid}; gateway ${main.directUrl}, bare ${main.bareUrl}, entry ${main.entryUrl}`);

    const validHeaders = await validTokenHeaders(main.gateway);

    // Sessions for the refresh row, made up front through POST /auth/login; each request
    // rotates one and puts it back (sessionRequests).
    // The strict row reuses the last STRICT_SESSIONS of them (their login access tokens).
    // They live in a gateway of their own: thousands of session objects in the isolate that
    // serves the public and valid rows made those rows read 5–10 % worse than the same
    // Worker alone (measured last stop), which is not what a valid-token request costs.
    const sessionCount =
      selected("gateway-refresh") || selected("gateway-valid-strict") ? Math.max(refreshSessions, STRICT_SESSIONS) : 0;
    const sessionHost = sessionCount > 0 ? await startBenchGateway(upstreamUrl) : main;
    if (sessionHost !== main) {
      atCleanUp(() => servedBy(sessionHost).stop());
      log(`sessions gateway: workerd pid ${sessionHost.workerdPid}, ${sessionHost.directUrl}`);
    }
    log(`creating ${sessionCount} sessions through POST /auth/login…`);
    const sessionStart = performance.now();
    const sessions = await createSessions(sessionHost, sessionCount, 60);
    const sessionSetupSeconds = (performance.now() - sessionStart) / 1000;
    const sessionsCreated = sessions.length;
    if (sessionsCreated < sessionCount) throw new Error(`only ${sessionsCreated} of ${sessionCount} sessions`);
    log(`  ${sessions.length} sessions in ${sessionSetupSeconds.toFixed(1)} s`);

    const seedRowPlans = await seedRows(upstreamUrl);
    const fixed = (headers: Array<Record<string, string>>) => () => staticRequests(headers);

    // The verify-only rows share one gateway (bench-gateway.ts, startIssuersGateway), started by the first of them.
    let issuers: Promise<IssuersGateway> | undefined;
    let issuersUsers = 0;
    let issuersTokens: IssuersGateway | undefined;
    const issuersRow = async () => {
      // Smoke mode sends a few requests a row: a few fresh tokens do.
      issuers ??= startIssuersGateway(upstreamUrl, smoke ? 64 : FRESH_TOKENS);
      issuersUsers++;
      issuersTokens = await issuers;
      return {
        ...servedBy(issuersTokens.running),
        stop: async () => {
          if (--issuersUsers === 0) await issuersTokens?.stop();
        },
      };
    };
    let nocacheHeaders: Array<Record<string, string>> = [];
    let assertionHeaders: Array<Record<string, string>> = [];
    let ownHeaders: Array<Record<string, string>> = [];
    let dpop: Awaited<ReturnType<typeof dpopClients>> = [];
    const splitSessions: Session[] = [];
    let stores: SplitStores | undefined;
    const plans: RowPlan[] = [
      {
        id: "direct",
        label: "direct (upstream itself)",
        server: "upstream",
        baseline: undefined,
        prepare: async () => ({ url: upstreamUrl, pid: upstream.pid }),
        requests: fixed(validHeaders),
      },
      {
        id: "bare",
        label: "bare Worker (pass-through)",
        server: "workerd",
        baseline: undefined,
        prepare: async () => ({ url: main.bareUrl as string, pid: main.workerdPid }),
        requests: fixed(validHeaders),
      },
      {
        // The same pass-through alone in a workerd: the floor for the rows of --builds.
        id: "bare-own",
        label: "bare Worker (pass-through), own workerd",
        server: "workerd",
        baseline: undefined,
        prepare: () => startLoneWorker(BARE_SCRIPT, { UPSTREAM_URL: upstreamUrl }),
        requests: fixed(validHeaders),
      },
      {
        id: "bare-entry",
        label: "bare Worker via miniflare's entry worker",
        server: "workerd",
        baseline: "bare",
        // What `wrangler dev` and `mf.ready` serve: miniflare's entry worker routes by host.
        prepare: async () => ({ url: main.entryUrl, pid: main.workerdPid }),
        requests: () => staticRequests(validHeaders.map((headers) => ({ ...headers, host: BARE_ROUTE_HOST }))),
      },
      {
        // The forwarding floor alone in a workerd, beside the lone pass-through: for the rows of --builds.
        id: FLOOR_OWN_ROW,
        label: "forwarding floor, own workerd",
        server: "workerd",
        baseline: "bare-own",
        prepare: () => startLoneWorker(FLOOR_SCRIPT, { UPSTREAM_URL: upstreamUrl }),
        requests: fixed(validHeaders),
      },
      {
        id: FLOOR_ROW,
        label: "forwarding floor: the gateway's required forwarding, no token work",
        server: "workerd",
        baseline: "bare",
        prepare: async () => ({ url: main.floorUrl as string, pid: main.workerdPid }),
        requests: fixed(validHeaders),
      },
      {
        id: "gateway-public",
        label: "gateway, public route (no token work)",
        server: "workerd",
        baseline: "bare",
        prepare: async () => ({ url: main.directUrl, pid: main.workerdPid, counted: main.gateway.mf }),
        requests: () => [{ method: "GET", path: "/health" }],
      },
      {
        id: "gateway-valid",
        label: "gateway, valid token",
        server: "workerd",
        baseline: "bare",
        prepare: async () => ({ url: main.directUrl, pid: main.workerdPid, counted: main.gateway.mf }),
        requests: fixed(validHeaders),
      },
      {
        id: "gateway-valid-conditions",
        label: "gateway, valid token, five-condition rule",
        server: "workerd",
        baseline: "bare",
        prepare: async () => ({ url: main.directUrl, pid: main.workerdPid, counted: main.gateway.mf }),
        // The client address as the edge sets it: direct sockets skip miniflare's entry worker, which would.
        requests: () =>
          validHeaders.map((headers) => ({
            method: "GET",
            path: CONDITIONS_PATH,
            headers: { ...headers, "cf-connecting-ip": "127.0.0.1" },
          })),
      },
      {
        id: "bare-p256",
        label: "bare Worker + one ECDSA P-256 verification",
        server: "workerd",
        baseline: "bare",
        prepare: async () => ({ url: main.p256Url as string, pid: main.workerdPid }),
        requests: fixed(validHeaders),
      },
      {
        id: "bare-proof",
        label: "bare Worker + the gateway's DPoP proof check",
        server: "workerd",
        baseline: "bare",
        prepare: async () => {
          if (dpop.length === 0) dpop = await dpopClients(main.gateway);
          return { url: main.proofUrl as string, pid: main.workerdPid };
        },
        requests: () => dpopRequests(dpop, main.proofUrl as string),
      },
      {
        id: "gateway-valid-dpop",
        label: "gateway, valid DPoP-bound token and a fresh proof",
        server: "workerd",
        baseline: "bare",
        prepare: async () => {
          if (dpop.length === 0) dpop = await dpopClients(main.gateway);
          return { url: main.directUrl, pid: main.workerdPid, counted: main.gateway.mf };
        },
        requests: () => dpopRequests(dpop, main.directUrl),
      },
      ...(options.builds ?? []).flatMap((ref) => buildRows(ref, upstreamUrl, refreshSessions)),
      {
        id: "gateway-verify-single",
        label: "gateway, verify only, a token it has not seen: one issuer (JWKS_URL, ES256)",
        server: "workerd",
        baseline: "bare",
        prepare: issuersRow,
        requests: () => rotatingRequests(issuersTokens?.single ?? []),
      },
      {
        id: "gateway-verify-issuers",
        label:
          "gateway, verify only, a token it has not seen: two trusted issuers, alternating (added: over the row above)",
        server: "workerd",
        baseline: "gateway-verify-single",
        prepare: issuersRow,
        requests: () => rotatingRequests(issuersTokens?.trusted ?? []),
      },
      {
        id: "gateway-valid-nocache",
        label: "gateway, valid token, revocation cache off",
        server: "workerd",
        baseline: "bare",
        prepare: async () => {
          const nocache = await startBenchGateway(upstreamUrl, { revocationCacheSeconds: "0" });
          // This instance has its own test key: the same kind of tokens, minted for it.
          nocacheHeaders = await validTokenHeaders(nocache.gateway);
          return { ...servedBy(nocache), counted: nocache.gateway.mf };
        },
        requests: () => staticRequests(nocacheHeaders),
      },
      {
        id: "gateway-valid-own",
        label: "gateway, valid token, in a workerd of its own",
        server: "workerd",
        baseline: "bare",
        // The assertion row's control: the same shape (a gateway alone in its workerd), the setting off.
        prepare: async () => {
          const own = await startBenchGateway(upstreamUrl);
          ownHeaders = await validTokenHeaders(own.gateway);
          return { ...servedBy(own), counted: own.gateway.mf };
        },
        requests: () => staticRequests(ownHeaders),
      },
      {
        id: "gateway-valid-assertion",
        label: "gateway, valid token, upstream assertion",
        server: "workerd",
        baseline: "bare",
        prepare: async () => {
          // UPSTREAM_ASSERTION on: every forwarded request gets a freshly signed assertion.
          const asserting = await startBenchGateway(upstreamUrl, { vars: { UPSTREAM_ASSERTION: "true" } });
          assertionHeaders = await validTokenHeaders(asserting.gateway);
          return { ...servedBy(asserting), counted: asserting.gateway.mf };
        },
        requests: () => staticRequests(assertionHeaders),
      },
      {
        id: "gateway-valid-strict",
        label: 'gateway, valid token, revocation = "strict" route',
        server: "workerd",
        baseline: "bare",
        prepare: async () => ({ url: sessionHost.directUrl, pid: sessionHost.workerdPid }),
        // Live sessions (the object is asked whether each is alive): 64 of them, used over and over.
        requests: () =>
          sessions.slice(-STRICT_SESSIONS).map((session) => ({
            method: "GET",
            path: STRICT_PATH,
            headers: { authorization: `Bearer ${session.accessToken}` },
          })),
      },
      {
        id: "gateway-refresh",
        label: "gateway, transparent refresh",
        server: "workerd",
        baseline: "bare",
        prepare: async () => ({
          url: sessionHost.directUrl,
          pid: sessionHost.workerdPid,
          counted: sessionHost.gateway.mf,
        }),
        requests: () => sessionRequests(sessions),
      },
      {
        // The Worker's own CPU per refresh: the stores run in another workerd, as in production,
        // and the added CPU is counted against a Worker that makes the same calls (the probe).
        id: "gateway-refresh-split",
        label: "gateway, transparent refresh, stores in another workerd (added: over the probe below)",
        server: "workerd",
        baseline: STORE_CALLS_PROBE,
        prepare: async () => {
          stores = await startSplitStores();
          // Closed after the probe row, or at the end if that row is not run.
          atCleanUp(async () => {
            await stores?.close();
            stores = undefined;
          });
          const split = await startSplitGateway(upstreamUrl, stores, refreshSessions);
          splitSessions.push(...split.sessions);
          return split.served;
        },
        requests: () => sessionRequests(splitSessions),
      },
      {
        id: STORE_CALLS_PROBE,
        label: "… a Worker that forwards and makes only those store and rate-limit calls",
        server: "workerd",
        baseline: undefined,
        prepare: async () => {
          stores ??= await startSplitStores();
          // After the stores are up: their workerd is not the probe's.
          const before = childPidsNamed(process.pid, "workerd");
          const probe = await stores.startProbe(upstreamUrl);
          const pid = newWorkerdPid(before);
          return {
            url: (await probe.unsafeGetDirectURL()).toString().replace(/\/$/, ""),
            pid,
            stop: async () => {
              await probe.dispose();
              untrackPid(pid);
              await stores?.close();
              stores = undefined;
            },
          };
        },
        // Headers the size of a refresh row's (an expired EdDSA token and a refresh cookie):
        // the same bytes for workerd to parse.
        requests: () => [{ method: "GET", path: API_PATH, headers: PROBE_HEADERS }],
      },
      ...seedRowPlans,
    ];

    // Every selected row is prepared and warmed up first, then measured in interleaved
    // rounds (bench/rounds.ts); one round is the plain sequential run.
    const active: Array<RowPlan & { prepared: Awaited<ReturnType<RowPlan["prepare"]>> }> = [];
    const byRound = new Map<string, LoadResult[]>();
    const counted = new Map<string, BindingCounts>();
    try {
      const load = (plan: (typeof active)[number], phase: "warmup" | "measure") => {
        if (pinned) pinToCpus(plan.prepared.pid, serverCpu);
        const measured = smoke && phase === "measure";
        return runLoad({
          url: plan.prepared.url,
          connections,
          durationSeconds: phase === "warmup" ? warmupSeconds : durationSeconds,
          ...(measured ? { amount: SMOKE_REQUESTS_PER_CONNECTION * connections, limitSeconds: durationSeconds } : {}),
          requests: plan.requests(phase),
          serverPid: plan.prepared.pid,
          upstreamPid: upstream.pid,
        }).catch((error: unknown) => {
          throw new Error(`row ${plan.id}: ${error instanceof Error ? error.message : String(error)}`, {
            cause: error,
          });
        });
      };
      for (const plan of plans.filter((candidate) => selected(candidate.id))) {
        const prepared = await plan.prepare();
        const row = { ...plan, prepared };
        active.push(row);
        const warm = await load(row, "warmup");
        if (warm.errors > 0) log(`  warm-up of ${plan.id}: ${warm.errors} errors ${JSON.stringify(warm.statusCodes)}`);
        byRound.set(plan.id, []);
      }
      await inRounds(
        active,
        rounds,
        async (row) => {
          if (row.prepared.counted) await resetCounts(row.prepared.counted);
          const result = await load(row, "measure");
          if (row.prepared.counted) {
            counted.set(row.id, addCounts(counted.get(row.id), await readCounts(row.prepared.counted)));
          }
          byRound.get(row.id)?.push(result);
          log(
            `  ${row.id.padEnd(22)} ${result.requestsPerSecond.toFixed(0).padStart(6)} req/s  p50 ${result.latencyP50} ms  p99 ${result.latencyP99} ms  errors ${result.errors}  cpu ${result.serverCpuMicros.toFixed(0)} µs/req`,
          );
          if (result.errors > 0) {
            log(`    status codes ${JSON.stringify(result.statusCodes)}`);
            // With BENCH_LOGS=1 the gateway keeps its log lines: show why it answered an error.
            const logs = [...main.gateway.logs, ...(sessionHost === main ? [] : sessionHost.gateway.logs)];
            const failures = logs.filter((line) => line.includes('"level":"error"'));
            for (const line of failures.slice(-5)) log(`    ${line}`);
          }
        },
        log,
      );
    } finally {
      for (const row of active.reverse()) await row.prepared.stop?.();
    }

    // Memory: big bodies stream through the gateway; workerd's peak must not follow their size.
    const bigToken = validHeaders[0]?.authorization?.slice("Bearer ".length) ?? "";
    const transfers: TransferResult[] = [];
    const transferSizes = soak || options.rows !== undefined ? [] : [transferBytes / 10, transferBytes];
    for (const bytes of transferSizes.map(Math.floor)) {
      for (const direction of ["upload", "download"] as const) {
        const result = await transfer(main, bigToken, direction, bytes);
        transfers.push(result);
        log(
          `  ${direction} ${(bytes / 2 ** 20).toFixed(1)} MiB: ${result.ok ? "ok" : "FAILED"} in ${result.seconds.toFixed(1)} s, workerd RSS ${mib(result.rssBefore)} → peak ${mib(result.peak)}`,
        );
      }
    }
    const gatewayPeakBytes = memoryStatus(main.workerdPid).peak;

    const bareRounds = byRound.get("bare");
    const rows: RowResult[] = plans
      .filter((plan) => byRound.has(plan.id))
      .map(({ id, label, server, baseline }) => {
        const mine = byRound.get(id) as LoadResult[];
        // × bare: against the pass-through in the same setting (its own workerd for --builds rows).
        const ratioBase = baseline === "bare-own" && byRound.has("bare-own") ? byRound.get("bare-own") : bareRounds;
        const summary = summarizeRounds(mine, baseline === undefined ? undefined : byRound.get(baseline), ratioBase);
        const ops = counted.get(id);
        return {
          ...summary.result,
          id,
          label,
          server,
          baseline,
          ratioToBare: summary.ratioToBare,
          addedCpuMicros: summary.addedCpuMicros,
          addedLatencyMs: summary.addedLatencyMs,
          cpuByRound: summary.cpuByRound,
          rpsByRound: summary.rpsByRound,
          bindingOps: ops === undefined ? undefined : perRequest(ops, summary.result.requests),
        };
      });
    const bench: BenchResult = {
      startedAt,
      options: { smoke, soak, durationSeconds, rounds, pinned, connections, transferBytes },
      bundle,
      rows,
      transfers,
      gatewayPeakBytes,
      sessionsCreated,
      sessionSetupSeconds,
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model ?? "unknown",
        memoryBytes: os.totalmem(),
        loadAtStart,
        loadAtEnd: os.loadavg()[0] ?? 0,
        node: process.version,
        workerd: packageVersion("workerd"),
        miniflare: packageVersion("miniflare"),
      },
    };
    if (options.outDir !== undefined) {
      mkdirSync(options.outDir, { recursive: true });
      writeFileSync(path.join(options.outDir, "benchmarks.json"), `${JSON.stringify(bench, null, 2)}\n`);
      writeFileSync(path.join(options.outDir, "benchmarks.svg"), renderChart(bench));
    }
    return bench;
  } finally {
    await cleanUp();
  }
}
