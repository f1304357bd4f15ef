/**
 * The end-to-end benchmark (`npm run bench`): one upstream on 127.0.0.1 and, in front of
 * it, the upstream itself, a pass-through Worker, Portcullis and the seed design on
 * Express, each driven by autocannon at the same concurrency for a bounded time.
 *
 * Workers run in workerd through miniflare with the bindings of wrangler.toml
 * [env.production] (test/support/gateway.ts). They are reached through miniflare's
 * direct sockets, which serve a worker straight from workerd; miniflare's entry worker
 * (what `wrangler dev` and `mf.ready` put in front) gets a row of its own so its cost
 * shows but is not charged to anyone.
 *
 * `runBench({ smoke: true })` is the test suite's few-seconds-per-row variant.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import type autocannon from "autocannon";
import { build } from "esbuild";
import { SignJWT } from "jose";
import { Miniflare } from "miniflare";
import { BUNDLE, buildWorker, ROOT } from "../test/support/build-worker";
import { type Gateway, startGateway } from "../test/support/gateway";
import { makeKey, TEST_SECRETS } from "../test/support/test-keys";
import { decodeClaims, mintToken } from "../test/support/tokens";
import { TEST_USERS, type TestUpstream } from "../test/support/upstream";
import { writeBytes } from "../test/support/write-bytes";
import { type BindingCounts, countingOptions, perRequest, readCounts, resetCounts } from "./binding-counts";
import { renderChart } from "./chart";
import { bundleAt } from "./cost-fixtures";
import { type LoadResult, runLoad } from "./load";
import {
  childPidsNamed,
  installExitHooks,
  memoryStatus,
  type NodeChild,
  pinToCpus,
  resetPeakMemory,
  startNodeChild,
  trackPid,
  untrackPid,
} from "./processes";
import { addCounts, summarizeRounds } from "./rounds";
import type { SeedConfig } from "./seed-server";
import { type SplitStores, startSplitStores } from "./split-stores";

export interface BenchOptions {
  /** A few seconds per row (the test suite's mode). */
  readonly smoke?: boolean;
  /** Seconds per measured row (default 12, smoke 2). */
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

function packageVersion(name: string): string {
  try {
    return (
      JSON.parse(readFileSync(path.join(ROOT, "node_modules", name, "package.json"), "utf8")) as { version: string }
    ).version;
  } catch {
    return "unknown";
  }
}

const BENCH_DIST = path.join(ROOT, "dist/bench");
const API_PATH = "/api/items?page=1";
/** The same request on a route with `revocation = "strict"` (the session object is asked). */
const STRICT_PATH = "/strict/items?page=1";
const STRICT_SESSIONS = 64;
/** Distinct tokens (subjects, sessions) the valid-token rows cycle through. */
const TOKEN_POOL = 256;
const REFRESH_SECRET = "seed-refresh-secret-0123456789abcdef";
/** Rate limits out of the way: the benchmark measures throughput, not the limiter. */
/** The bare worker's route behind miniflare's entry worker. */
const BARE_ROUTE_HOST = "bare.bench.test";
const UNLIMITED = { simple: { limit: 1_000_000_000, period: 60 } };

function randomId(): string {
  return createHash("sha256").update(crypto.randomUUID()).digest("base64url").slice(0, 22);
}

async function buildChildren(): Promise<{ upstream: string; seed: string }> {
  await build({
    entryPoints: { "upstream-server": "bench/upstream-server.ts", "seed-server": "bench/seed-server.ts" },
    absWorkingDir: ROOT,
    outdir: BENCH_DIST,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node22",
    packages: "external",
    logLevel: "warning",
  });
  return { upstream: path.join(BENCH_DIST, "upstream-server.mjs"), seed: path.join(BENCH_DIST, "seed-server.mjs") };
}

/**
 * The upstream runs in its own process; startGateway only reads its URL and, because it
 * was handed in, never closes it. The rest of TestUpstream is about recording, which the
 * benchmark's upstream does not do.
 */
function asTestUpstream(url: string): TestUpstream {
  const remote: Pick<TestUpstream, "url" | "close"> = { url, close: async () => undefined };
  return remote as unknown as TestUpstream;
}

function newWorkerdPid(before: readonly number[]): number {
  const pid = childPidsNamed(process.pid, "workerd").find((candidate) => !before.includes(candidate));
  if (pid === undefined) throw new Error("could not find the workerd process miniflare started");
  trackPid(pid);
  return pid;
}

interface RunningGateway {
  readonly gateway: Gateway;
  readonly workerdPid: number;
  readonly directUrl: string;
  readonly bareUrl: string | undefined;
  readonly entryUrl: string;
}

async function startBenchGateway(
  upstreamUrl: string,
  revocationCacheSeconds: string,
  withBare: boolean,
  stores?: { gatewayOptions: Record<string, unknown>; sharedOptions: Record<string, unknown> },
  /** Another build of the Worker (`--before`); the working tree's by default. */
  bundle = BUNDLE,
) {
  const before = childPidsNamed(process.pid, "workerd");
  const direct = [{ host: "127.0.0.1", port: 0 }];
  // Every KV and Durable Object operation is counted per row (bench/binding-counts.ts).
  const counting = countingOptions(bundle, true);
  const gateway = await startGateway({
    upstream: asTestUpstream(upstreamUrl),
    keepLogs: process.env.BENCH_LOGS === "1",
    // The production values of wrangler.toml, where the test harness shortens them.
    vars: {
      REVOCATION_CACHE_SECONDS: revocationCacheSeconds,
      UPSTREAM_TIMEOUT_MS: "30000",
      ROUTES: JSON.stringify([
        { path: "/health", public: true },
        { path: "/strict/*", revocation: "strict" },
      ]),
    },
    workerOptions: {
      ...counting.workerOptions,
      scriptPath: bundle,
      unsafeDirectSockets: direct,
      ratelimits: {
        LOGIN_IP_LIMIT: UNLIMITED,
        LOGIN_ACCOUNT_LIMIT: UNLIMITED,
        REFRESH_IP_LIMIT: UNLIMITED,
        REFRESH_SESSION_LIMIT: UNLIMITED,
      },
      ...stores?.gatewayOptions,
    },
    ...(stores ? { sharedOptions: stores.sharedOptions } : {}),
    extraWorkers: [
      ...(withBare
        ? [
            {
              name: "bare",
              modules: true,
              scriptPath: path.join(ROOT, "bench/bare-worker.js"),
              compatibilityDate: "2026-04-01",
              bindings: { UPSTREAM_URL: upstreamUrl },
              routes: [`${BARE_ROUTE_HOST}/*`],
              unsafeDirectSockets: direct,
            },
          ]
        : []),
      ...counting.extraWorkers,
    ],
  });
  const workerdPid = newWorkerdPid(before);
  const strip = (url: URL) => url.toString().replace(/\/$/, "");
  return {
    gateway,
    workerdPid,
    directUrl: strip(await gateway.mf.unsafeGetDirectURL("portcullis")),
    bareUrl: withBare ? strip(await gateway.mf.unsafeGetDirectURL("bare")) : undefined,
    entryUrl: gateway.url,
  } satisfies RunningGateway;
}

interface Session {
  /** The access token login gave (valid for ACCESS_TOKEN_TTL). */
  readonly accessToken: string;
  readonly expiredAccessToken: string;
  readonly refreshToken: string;
}

/** Log in `count` times through POST /auth/login; each session gets an expired access token. */
async function createSessions(
  running: RunningGateway,
  count: number,
  budgetSeconds: number,
  concurrency = 16,
): Promise<Session[]> {
  const sessions: Session[] = [];
  const users = Object.entries(TEST_USERS);
  const deadline = performance.now() + budgetSeconds * 1000;
  let next = 0;
  const worker = async () => {
    while (next < count && performance.now() < deadline) {
      const index = next++;
      const [username, user] = users[index % users.length] as [string, (typeof TEST_USERS)[string]];
      const response = await fetch(`${running.directUrl}/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username, password: user.password }),
      });
      if (response.status !== 200) {
        const failures = running.gateway.logs.filter((line) => line.includes('"level":"error"')).slice(-3);
        throw new Error(`login answered ${response.status}: ${await response.text()}\n${failures.join("\n")}`);
      }
      const body = (await response.json()) as { access_token: string };
      const cookie = response.headers.getSetCookie().find((line) => line.startsWith("__Host-portcullis-refresh="));
      const refreshToken = cookie?.split(";")[0]?.split("=")[1];
      if (!refreshToken) throw new Error("login set no refresh cookie");
      const { sub, sid, auth_time, scope, roles } = decodeClaims(body.access_token);
      // The same session's access token, as if its 15 minutes had passed.
      const expiredAccessToken = await mintToken(running.gateway.key, {
        claims: { sub, sid, auth_time, scope, roles } as never,
        iatOffset: -3600,
        ttl: 900,
      });
      sessions.push({ accessToken: body.access_token, expiredAccessToken, refreshToken });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return sessions;
}

/** Valid access tokens of distinct subjects and sessions, as many users would send them. */
async function validTokenHeaders(gateway: Gateway): Promise<Array<Record<string, string>>> {
  const headers: Array<Record<string, string>> = [];
  for (let index = 0; index < TOKEN_POOL; index++) {
    const token = await mintToken(gateway.key, { claims: { sub: `user-${index}`, sid: randomId() }, ttl: 3600 });
    headers.push({ authorization: `Bearer ${token}` });
  }
  return headers;
}

function staticRequests(headers: Array<Record<string, string>>): autocannon.Request[] {
  return headers.map((extra) => ({ method: "GET", path: API_PATH, headers: extra }));
}

const REFRESH_COOKIE_PREFIX = "__Host-portcullis-refresh=";

/**
 * Every request is a transparent refresh: the session's expired access token and its
 * current refresh cookie. Each answer rotates the cookie, and the session goes back into
 * the pool with the new one, as a client that refreshes every access-token lifetime
 * would; no refresh token is ever presented twice. A session whose answer carries no
 * rotated cookie (an error, counted by the row), or whose request was still in flight
 * when a phase ended, leaves the pool. `ready` is shared by the warm-up and the measured
 * phase and holds several sessions per connection, so a request always finds one.
 */
function sessionRequests(ready: Session[]): autocannon.Request[] {
  type Context = { session?: Session };
  return [
    {
      method: "GET",
      path: API_PATH,
      setupRequest: (request, context: Context) => {
        const session = ready.shift();
        if (session === undefined) throw new Error("the session pool ran out");
        context.session = session;
        return {
          ...request,
          headers: {
            authorization: `Bearer ${session.expiredAccessToken}`,
            cookie: `${REFRESH_COOKIE_PREFIX}${session.refreshToken}`,
          },
        };
      },
      onResponse: (status, _body, context: Context, headers) => {
        const session = context.session;
        context.session = undefined;
        if (session === undefined || status !== 200) return;
        // Raw header names, as the server wrote them.
        const lines = Object.entries((headers ?? {}) as Record<string, string | string[]>)
          .filter(([name]) => name.toLowerCase() === "set-cookie")
          .flatMap(([, value]) => value);
        const line = lines.find((value) => value.startsWith(REFRESH_COOKIE_PREFIX));
        const rotated = line?.slice(REFRESH_COOKIE_PREFIX.length).split(";")[0];
        if (rotated) ready.push({ ...session, refreshToken: rotated });
      },
    },
  ];
}

async function seedTokens(count: number) {
  const es256 = await makeKey("ES256", "seed-es256");
  const hsKey = new TextEncoder().encode(TEST_SECRETS.ACCESS_SECRET);
  const now = Math.floor(Date.now() / 1000);
  const sign = (alg: "HS256" | "ES256", userId: string, exp: number) =>
    new SignJWT({ userId })
      .setProtectedHeader({ alg, typ: "JWT" })
      .setIssuedAt(exp - 900)
      .setExpirationTime(exp)
      .sign(alg === "HS256" ? hsKey : es256.privateKey);
  const refresh = (userId: string) =>
    new SignJWT({ userId })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setIssuedAt(now)
      .setExpirationTime(now + 30 * 86_400)
      .sign(new TextEncoder().encode(REFRESH_SECRET));
  const valid: Record<"HS256" | "ES256", Array<Record<string, string>>> = { HS256: [], ES256: [] };
  const expired: Record<"HS256" | "ES256", Array<Record<string, string>>> = { HS256: [], ES256: [] };
  for (let index = 0; index < count; index++) {
    const userId = `user-${index}`;
    for (const alg of ["HS256", "ES256"] as const) {
      valid[alg].push({ authorization: `Bearer ${await sign(alg, userId, now + 3600)}` });
      expired[alg].push({
        authorization: `Bearer ${await sign(alg, userId, now - 3600)}`,
        cookie: `refreshToken=${await refresh(userId)}`,
      });
    }
  }
  return { es256, valid, expired };
}

/** Stream `bytes` through the gateway one way and watch workerd's peak RSS. */
async function transfer(
  running: RunningGateway,
  token: string,
  direction: "upload" | "download",
  bytes: number,
): Promise<TransferResult> {
  const rssBefore = memoryStatus(running.workerdPid).rss;
  resetPeakMemory(running.workerdPid);
  const started = performance.now();
  const target =
    direction === "upload" ? `${running.directUrl}/api/upload` : `${running.directUrl}/api/stream/${bytes}`;
  const ok = await new Promise<boolean>((resolve, reject) => {
    const request = http.request(
      target,
      {
        method: direction === "upload" ? "POST" : "GET",
        headers: {
          authorization: `Bearer ${token}`,
          ...(direction === "upload" ? { "content-type": "application/octet-stream", "content-length": bytes } : {}),
        },
      },
      (response) => {
        let received = 0;
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => {
          received += chunk.length;
          if (direction === "upload") chunks.push(chunk);
        });
        response.on("end", () => {
          if (response.statusCode !== 200) return resolve(false);
          if (direction === "download") return resolve(received === bytes);
          const echoed = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { bodyBytes: number };
          resolve(echoed.bodyBytes === bytes);
        });
        response.on("error", reject);
      },
    );
    request.on("error", reject);
    if (direction === "download") return void request.end();
    writeBytes(request, bytes, Buffer.alloc(64 * 1024, 0x62));
  });
  return {
    direction,
    bytes,
    seconds: (performance.now() - started) / 1000,
    ok,
    rssBefore,
    peak: memoryStatus(running.workerdPid).peak,
  };
}

interface RowPlan {
  readonly id: string;
  readonly label: string;
  readonly server: RowResult["server"];
  readonly baseline: string | undefined;
  /** Starts what the row needs; returns the URL, the server pid, a stop function and the gateway whose bindings are counted. */
  prepare(): Promise<{ url: string; pid: number; stop?: () => Promise<void>; counted?: Gateway["mf"] }>;
  requests(phase: "warmup" | "measure"): autocannon.Request[];
}

/** The rows a soak run drives. */
const SOAK_ROWS = ["gateway-public", "gateway-valid", "gateway-refresh"];

function bundleSize(): { bytes: number; gzipBytes: number } {
  const source = readFileSync(BUNDLE);
  return { bytes: source.length, gzipBytes: gzipSync(source).length };
}

/**
 * `--builds <ref,…>`: the Worker built at `ref` (`.`: the working tree), in a workerd of
 * its own, driven like the public-route and valid-token rows. Both rows share that
 * workerd; the last one stops it.
 */
function buildRows(ref: string, upstreamUrl: string): RowPlan[] {
  let running: Promise<{ gateway: RunningGateway; headers: Array<Record<string, string>> }> | undefined;
  let users = 0;
  const start = () => {
    running ??= (async () => {
      const bundle = ref === "." ? BUNDLE : bundleAt(ref);
      const gateway = await startBenchGateway(upstreamUrl, "5", false, undefined, bundle);
      return { gateway, headers: await validTokenHeaders(gateway.gateway) };
    })();
    users++;
    return running;
  };
  const stop = async () => {
    if (--users > 0 || running === undefined) return;
    const { gateway } = await running;
    await gateway.gateway.close();
    untrackPid(gateway.workerdPid);
  };
  let headers: Array<Record<string, string>> = [];
  const name = ref === "." ? "the working tree" : ref;
  const row = (id: string, label: string, requests: () => autocannon.Request[]): RowPlan => ({
    id: `${id}@${ref}`,
    label: `${label}: ${name}, own workerd`,
    server: "workerd",
    baseline: "bare-own",
    prepare: async () => {
      const started = await start();
      headers = started.headers;
      return { url: started.gateway.directUrl, pid: started.gateway.workerdPid, stop };
    },
    requests,
  });
  return [
    row("gateway-public", "gateway, public route", () => [{ method: "GET", path: "/health" }]),
    row("gateway-valid", "gateway, valid token", () => staticRequests(headers)),
  ];
}

export async function runBench(options: BenchOptions = {}): Promise<BenchResult> {
  const smoke = options.smoke ?? false;
  const soak = options.soakSeconds !== undefined;
  const durationSeconds = options.soakSeconds ?? options.durationSeconds ?? (smoke ? 2 : 12);
  const warmupSeconds = options.warmupSeconds ?? (smoke ? 0.5 : 2);
  const connections = options.connections ?? 32;
  const transferBytes = options.transferBytes ?? (smoke ? 8 * 1024 * 1024 : 100 * 1024 * 1024);
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const startedAt = new Date().toISOString();
  const loadAtStart = os.loadavg()[0] ?? 0;

  const cleanups: Array<() => Promise<void>> = [];
  const cleanup = async () => {
    for (const step of cleanups.splice(0).reverse()) await step().catch(() => undefined);
  };
  installExitHooks(cleanup);

  try {
    if (!options.skipWorkerBuild) {
      log("bundling the Worker (wrangler deploy --dry-run)…");
      buildWorker();
    }
    const bundle = bundleSize();
    log(`worker bundle: ${path.relative(ROOT, BUNDLE)}, ${kib(bundle.bytes)}, gzip ${kib(bundle.gzipBytes)}`);
    // The lone pass-through is the floor of the --builds rows: it comes with them.
    const withBuilds = (options.builds?.length ?? 0) > 0;
    const selected = (id: string) =>
      id === "bare-own"
        ? withBuilds
        : (options.rows === undefined || options.rows.includes(id)) && (!soak || SOAK_ROWS.includes(id));
    const scripts = await buildChildren();

    const upstream = await startNodeChild(scripts.upstream);
    cleanups.push(() => upstream.stop());
    const cpuCount = os.cpus().length;
    const pinned = (options.pin ?? false) && cpuCount >= 2 && pinToCpus(process.pid, `0-${cpuCount - 2}`);
    if (pinned) {
      pinToCpus(upstream.pid, `0-${cpuCount - 2}`);
      cleanups.push(async () => void pinToCpus(process.pid, `0-${cpuCount - 1}`));
    }
    const serverCpu = String(cpuCount - 1);
    log(
      pinned ? `servers under test on CPU ${serverCpu}; load and upstream on CPUs 0-${cpuCount - 2}` : "no CPU pinning",
    );
    const upstreamUrl = upstream.ready.url as string;
    log(`upstream: ${upstreamUrl} (pid ${upstream.pid})`);

    const main = await startBenchGateway(upstreamUrl, "5", true);
    cleanups.push(async () => {
      await main.gateway.close();
      untrackPid(main.workerdPid);
    });
    log(`workerd: pid ${main.workerdPid}; gateway ${main.directUrl}, bare ${main.bareUrl}, entry ${main.entryUrl}`);

    const validHeaders = await validTokenHeaders(main.gateway);

    // Sessions for the refresh row, made up front through POST /auth/login; each request
    // rotates one and puts it back (sessionRequests).
    // The strict row reuses the last STRICT_SESSIONS of them (their login access tokens).
    const sessionCount =
      selected("gateway-refresh") || selected("gateway-valid-strict") ? Math.max(8 * connections, STRICT_SESSIONS) : 0;
    log(`creating ${sessionCount} sessions through POST /auth/login…`);
    const sessionStart = performance.now();
    const sessions = await createSessions(main, sessionCount, 60);
    const sessionSetupSeconds = (performance.now() - sessionStart) / 1000;
    const sessionsCreated = sessions.length;
    if (sessionsCreated < sessionCount) throw new Error(`only ${sessionsCreated} of ${sessionCount} sessions`);
    log(`  ${sessions.length} sessions in ${sessionSetupSeconds.toFixed(1)} s`);

    const seed = await seedTokens(TOKEN_POOL);
    const seedServer = async (mode: SeedConfig["mode"], alg: SeedConfig["alg"]) => {
      const config: SeedConfig = {
        mode,
        upstream: upstreamUrl,
        alg,
        accessSecret: TEST_SECRETS.ACCESS_SECRET,
        accessPrivateJwk: seed.es256.privateJwk as Record<string, unknown>,
        accessPublicJwk: seed.es256.publicJwk as Record<string, unknown>,
        refreshSecret: REFRESH_SECRET,
      };
      const child: NodeChild = await startNodeChild(scripts.seed, { SEED_CONFIG: JSON.stringify(config) });
      return { url: child.ready.url as string, pid: child.pid, stop: () => child.stop() };
    };
    const fixed = (headers: Array<Record<string, string>>) => () => staticRequests(headers);

    let nocacheHeaders: Array<Record<string, string>> = [];
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
        prepare: async () => {
          const before = childPidsNamed(process.pid, "workerd");
          const alone = new Miniflare({
            modules: true,
            scriptPath: path.join(ROOT, "bench/bare-worker.js"),
            compatibilityDate: "2026-04-01",
            bindings: { UPSTREAM_URL: upstreamUrl },
            unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
            // Its complaints about clients that leave at the end of a row, as the gateway's harness drops them.
            handleRuntimeStdio: (stdout: NodeJS.ReadableStream, stderr: NodeJS.ReadableStream) => {
              stdout.resume();
              stderr.resume();
            },
          });
          const url = (await alone.unsafeGetDirectURL()).toString().replace(/\/$/, "");
          const pid = newWorkerdPid(before);
          return {
            url,
            pid,
            stop: async () => {
              await alone.dispose();
              untrackPid(pid);
            },
          };
        },
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
      ...(options.builds ?? []).flatMap((ref) => buildRows(ref, upstreamUrl)),
      {
        id: "gateway-valid-nocache",
        label: "gateway, valid token, revocation cache off",
        server: "workerd",
        baseline: "bare",
        prepare: async () => {
          const nocache = await startBenchGateway(upstreamUrl, "0", false);
          // This instance has its own test key: the same kind of tokens, minted for it.
          nocacheHeaders = await validTokenHeaders(nocache.gateway);
          return {
            url: nocache.directUrl,
            pid: nocache.workerdPid,
            counted: nocache.gateway.mf,
            stop: async () => {
              await nocache.gateway.close();
              untrackPid(nocache.workerdPid);
            },
          };
        },
        requests: () => staticRequests(nocacheHeaders),
      },
      {
        id: "gateway-valid-strict",
        label: 'gateway, valid token, revocation = "strict" route',
        server: "workerd",
        baseline: "bare",
        prepare: async () => ({ url: main.directUrl, pid: main.workerdPid }),
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
        prepare: async () => ({ url: main.directUrl, pid: main.workerdPid, counted: main.gateway.mf }),
        requests: () => sessionRequests(sessions),
      },
      {
        // The Worker's own CPU per refresh: the stores run in another workerd, as in production.
        id: "gateway-refresh-split",
        label: "gateway, transparent refresh, session object and KV in another workerd",
        server: "workerd",
        baseline: "bare",
        prepare: async () => {
          stores = await startSplitStores();
          // Closed after the probe row, or at the end if that row is not run.
          cleanups.push(async () => {
            await stores?.close();
            stores = undefined;
          });
          const split = await startBenchGateway(upstreamUrl, "5", false, stores);
          splitSessions.push(...(await createSessions(split, 8 * connections, 60)));
          return {
            url: split.directUrl,
            pid: split.workerdPid,
            stop: async () => {
              await split.gateway.close();
              untrackPid(split.workerdPid);
            },
          };
        },
        requests: () => sessionRequests(splitSessions),
      },
      {
        id: "store-calls-probe",
        label: "… a Worker making only those store calls (to subtract)",
        server: "workerd",
        baseline: undefined,
        prepare: async () => {
          const before = childPidsNamed(process.pid, "workerd");
          stores ??= await startSplitStores();
          const probe = await stores.startProbe();
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
        requests: () => [{ method: "GET", path: "/" }],
      },
      {
        id: "express",
        label: "Express proxy (no middleware)",
        server: "node (express)",
        baseline: undefined,
        prepare: () => seedServer("plain", "HS256"),
        requests: fixed(seed.valid.HS256),
      },
      {
        id: "seed-valid-hs256",
        label: "seed middleware, valid token, HS256",
        server: "node (express)",
        baseline: "express",
        prepare: () => seedServer("seed", "HS256"),
        requests: fixed(seed.valid.HS256),
      },
      {
        id: "seed-valid-es256",
        label: "seed middleware, valid token, ES256",
        server: "node (express)",
        baseline: "express",
        prepare: () => seedServer("seed", "ES256"),
        requests: fixed(seed.valid.ES256),
      },
      {
        id: "seed-refresh-hs256",
        label: "seed middleware, refresh, HS256",
        server: "node (express)",
        baseline: "express",
        prepare: () => seedServer("seed", "HS256"),
        requests: fixed(seed.expired.HS256),
      },
      {
        id: "seed-refresh-es256",
        label: "seed middleware, refresh, ES256",
        server: "node (express)",
        baseline: "express",
        prepare: () => seedServer("seed", "ES256"),
        requests: fixed(seed.expired.ES256),
      },
    ];

    // Every selected row is prepared and warmed up first, then measured in interleaved
    // rounds (bench/rounds.ts); one round is the plain sequential run.
    const rounds = Math.max(1, options.rounds ?? 1);
    const active: Array<RowPlan & { prepared: Awaited<ReturnType<RowPlan["prepare"]>> }> = [];
    const byRound = new Map<string, LoadResult[]>();
    const counted = new Map<string, BindingCounts>();
    try {
      const load = (plan: (typeof active)[number], phase: "warmup" | "measure") => {
        if (pinned) pinToCpus(plan.prepared.pid, serverCpu);
        return runLoad({
          url: plan.prepared.url,
          connections,
          durationSeconds: phase === "warmup" ? warmupSeconds : durationSeconds,
          requests: plan.requests(phase),
          serverPid: plan.prepared.pid,
          upstreamPid: upstream.pid,
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
      for (let round = 1; round <= rounds; round++) {
        if (rounds > 1) log(`round ${round} of ${rounds}`);
        // Every other round in reverse, so a drift over the run does not favour the rows measured first.
        for (const row of round % 2 === 1 ? active : [...active].reverse()) {
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
            const failures = main.gateway.logs.filter((line) => line.includes('"level":"error"'));
            for (const line of failures.slice(-5)) log(`    ${line}`);
          }
        }
      }
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
    await cleanup();
  }
}

function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

function mib(bytes: number): string {
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
      `| ${row.label} | ${row.requestsPerSecond.toFixed(0)} | ${row.ratioToBare.toFixed(2)} | ${row.latencyP50} | ${row.latencyP99} | ${row.errors} | ${row.serverCpuMicros.toFixed(0)} (${row.server}) | ${added(row.addedCpuMicros, 0)} | ${added(row.addedLatencyMs, 2)} | ${mib(row.serverPeakBytes)} |`,
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
      `Soak: ${bench.rows.map((row) => row.id).join(", ")}; ${bench.options.durationSeconds} s each at ${bench.options.connections} connections; ${requests} requests, ${errors} errors (non-2xx + connection errors + timeouts).`,
    );
  }
  const { machine } = bench;
  lines.push(
    `Machine: ${machine.cpus} × ${machine.cpuModel}, ${mib(machine.memoryBytes)} RAM; load average ${machine.loadAtStart.toFixed(2)} at start, ${machine.loadAtEnd.toFixed(2)} at end; Node ${machine.node}, workerd ${machine.workerd}, miniflare ${machine.miniflare}. Sessions created up front: ${bench.sessionsCreated} in ${bench.sessionSetupSeconds.toFixed(1)} s.`,
  );
  return lines.join("\n");
}
