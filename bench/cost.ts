/**
 * `npm run bench:cost`: binding operations per request, before and after, in one run.
 *
 * Builds the Worker twice — at a git ref (default `main`: "before") and from the working
 * tree ("after") — and drives each, with every KV and Durable Object operation counted
 * inside workerd (bench/binding-counts.ts), through the same rows:
 *
 *   valid-256       valid tokens of 256 users, cycled (a warm isolate)
 *   valid-10k       10,000 distinct valid tokens (users, sessions, token ids)
 *   login           POST /auth/login
 *   refresh         one transparent refresh per request (expired token + refresh cookie)
 *   refresh-expiry  nothing sent: what the refresh row's ledger records cost when they
 *                   expire (alarms, deleted rows), per refresh
 *   logout          POST /auth/logout with the access token and the refresh cookie, 8 at a time
 *   logout-quiet    the same, one every 1.2 s: each gets publishes of its own
 *   valid-revoking  valid-10k while 25 logouts a second go on: every shard changes each second
 *
 * Before the valid rows, one logout publishes the ledger's manifest, so the isolate meets a
 * deployment that has revoked something (one that never has also reads 0.1's `snapshot`).
 *
 * Prints the tables docs/cost.md is built from and writes docs/cost.json.
 *
 *   npm run bench:cost                          12 s per load row, before = main
 *   npm run bench:cost -- --before <ref> --duration 20 --out /tmp/cost
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import type autocannon from "autocannon";
import { BUNDLE, buildWorker, ROOT } from "../test/support/build-worker";
import {
  createSessions,
  REFRESH_COOKIE_PREFIX,
  type Session,
  servedBy,
  startBenchGateway,
  startBenchUpstream,
  validTokenHeaders,
} from "./bench-gateway";
import { type BindingCounts, hasLedger, perRequest, readCounts, resetCounts } from "./binding-counts";
import { bundleAt } from "./build-rows";
import { DEFAULT_ASSUMPTIONS, dailyCost, freePlanCeiling, type MeasuredOps } from "./cost-model";
import { formatCostReport } from "./cost-report";
import { runLoad } from "./load";
import { atCleanUp, cleanUp } from "./processes";

const { values } = parseArgs({
  options: {
    before: { type: "string", default: "main" },
    duration: { type: "string", default: "12" },
    connections: { type: "string", default: "32" },
    sessions: { type: "string", default: "1500" },
    out: { type: "string" },
  },
});
const DURATION = Number(values.duration);
const CONNECTIONS = Number(values.connections);
const SESSIONS = Number(values.sessions);
const LOGOUTS = 300;
/** One at a time, further apart than the ledger's 1 s publish interval. */
const QUIET_LOGOUTS = 20;
const QUIET_SPACING_MS = 1_200;
/** Over the valid-revoking row: 25 a second, 50 entries, about 3 per shard per second. */
const REVOKING_LOGOUTS = 300;
/** A rotation's ledger record lives 60 s (KV_MIN_TTL_SECONDS); the ledger prunes at most every 10 s. */
const EXPIRY_WAIT_SECONDS = 75;
const CACHE_SECONDS = 5;
const log = (line: string) => process.stderr.write(`${line}\n`);

interface RowOps {
  readonly id: string;
  readonly requests: number;
  readonly seconds: number;
  readonly requestsPerSecond: number | undefined;
  readonly errors: number;
  readonly statusCodes?: Record<string, number>;
  readonly totals: BindingCounts;
  readonly perRequest: BindingCounts;
}

interface VariantResult {
  readonly name: string;
  readonly commit: string;
  readonly rows: RowOps[];
  readonly ops: MeasuredOps;
}

function git(...args: string[]): string {
  return execFileSync("git", args, { cwd: ROOT, encoding: "utf8" }).trim();
}

/** POST /auth/logout with the session's access token and refresh cookie. */
async function logOutOne(url: string, session: Session): Promise<void> {
  const response = await fetch(`${url}/auth/logout`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${session.accessToken}`,
      cookie: `${REFRESH_COOKIE_PREFIX}${session.refreshToken}`,
    },
  });
  await response.arrayBuffer();
  if (response.status !== 204) throw new Error(`logout answered ${response.status}`);
}

/** Log each session out, 8 at a time. */
async function logOut(url: string, sessions: readonly Session[]): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < sessions.length) await logOutOne(url, sessions[next++] as Session);
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

/** Log the sessions out one every `spacingMs`, each when it is due (not after the one before). */
async function logOutSpaced(url: string, sessions: readonly Session[], spacingMs: number): Promise<void> {
  const start = performance.now();
  await Promise.all(
    sessions.map(async (session, index) => {
      await sleep(Math.max(0, start + index * spacingMs - performance.now()));
      await logOutOne(url, session);
    }),
  );
}

async function measureVariant(
  name: VariantResult["name"],
  bundle: string,
  upstream: { url: string; pid: number },
  vars: Record<string, string> = {},
): Promise<VariantResult> {
  const running = await startBenchGateway(upstream.url, { bundle, vars });
  const { gateway, workerdPid: pid, directUrl: url } = running;
  const rows: RowOps[] = [];
  try {
    /** `during`: started once the counts are reset, awaited after the load (the valid-revoking row). */
    const loadRow = async (
      id: string,
      requests: autocannon.Request[],
      amount?: number,
      during?: () => Promise<void>,
    ) => {
      // A warm-up outside the count, so the row starts with a warm isolate as traffic would.
      if (amount === undefined) {
        await runLoad({
          url,
          connections: CONNECTIONS,
          durationSeconds: 1,
          requests,
          serverPid: pid,
          upstreamPid: upstream.pid,
        });
      }
      await resetCounts(gateway.mf);
      const alongside = during?.();
      const result = await runLoad({
        url,
        connections: CONNECTIONS,
        durationSeconds: DURATION,
        ...(amount === undefined ? {} : { amount }),
        requests,
        serverPid: pid,
        upstreamPid: upstream.pid,
      });
      await alongside;
      const totals = await readCounts(gateway.mf);
      for (const line of gateway.logs
        .splice(0)
        .filter((entry) => entry.includes('"level":"error"'))
        .slice(0, 5)) {
        log(`    ${line}`);
      }
      const row = {
        id,
        requests: result.requests,
        seconds: result.seconds,
        requestsPerSecond: result.requestsPerSecond,
        errors: result.errors,
        statusCodes: result.statusCodes,
        totals,
        perRequest: perRequest(totals, result.requests),
      };
      rows.push(row);
      log(
        `  ${name} ${id.padEnd(10)} ${result.requestsPerSecond.toFixed(0).padStart(6)} req/s, errors ${result.errors} ${JSON.stringify(result.statusCodes)}, ${JSON.stringify(totals)}`,
      );
      return row;
    };
    // One request template that hands out the pool's tokens in turn across all connections,
    // so every token is really used (a static list would be walked in step by each connection).
    const bearer = async (count: number): Promise<autocannon.Request[]> => {
      const headers = (await validTokenHeaders(gateway, count)).map((header) => header.authorization);
      let turn = 0;
      return [
        {
          method: "GET",
          path: "/api/items",
          setupRequest: (request) => ({
            ...request,
            headers: { authorization: headers[turn++ % headers.length] },
          }),
        },
      ];
    };
    /** Counts of what happens with no request sent, per `requests` of the row before (or 0 s: not measured). */
    const quietRow = async (id: string, requests: number, seconds: number) => {
      await resetCounts(gateway.mf);
      if (seconds > 0) await sleep(seconds * 1000);
      const totals = await readCounts(gateway.mf);
      const row: RowOps = {
        id,
        requests,
        seconds,
        requestsPerSecond: undefined,
        errors: 0,
        totals,
        perRequest: perRequest(totals, requests),
      };
      rows.push(row);
      log(`  ${name} ${id.padEnd(10)} after ${seconds} s: ${JSON.stringify(totals)}`);
      return row;
    };
    const withLedger = hasLedger(bundle);
    // A deployment that has revoked something: the manifest is published (and its shards).
    await logOutOne(url, ((await createSessions(running, 1, 60)) as Session[])[0] as Session);
    await sleep(2_500);

    await loadRow("valid-256", await bearer(256));
    const valid10k = await loadRow("valid-10k", await bearer(10_000));

    // Sessions, one per refresh or logout, made through POST /auth/login (counted).
    await resetCounts(gateway.mf);
    const wanted = SESSIONS + LOGOUTS + QUIET_LOGOUTS + REVOKING_LOGOUTS;
    const sessions = await createSessions(running, wanted, 600);
    if (sessions.length < wanted) throw new Error(`only ${sessions.length} sessions in 600 s`);
    const loginTotals = await readCounts(gateway.mf);
    rows.push({
      id: "login",
      requests: sessions.length,
      seconds: 0,
      requestsPerSecond: undefined,
      errors: 0,
      totals: loginTotals,
      perRequest: perRequest(loginTotals, sessions.length),
    });
    const refreshPool = sessions.slice(0, SESSIONS);
    let next = 0;
    const refreshRow = await loadRow(
      "refresh",
      [
        {
          method: "GET",
          path: "/api/items",
          setupRequest: (request) => {
            const session = refreshPool[next++ % refreshPool.length] as Session;
            return {
              ...request,
              headers: {
                authorization: `Bearer ${session.expiredAccessToken}`,
                cookie: `${REFRESH_COOKIE_PREFIX}${session.refreshToken}`,
              },
            };
          },
        },
      ],
      refreshPool.length,
    );
    // Without a ledger nothing the gateway wrote expires into an operation: not waited for.
    const refreshExpiry = await quietRow("refresh-expiry", refreshPool.length, withLedger ? EXPIRY_WAIT_SECONDS : 0);
    await resetCounts(gateway.mf);
    const leaving = sessions.slice(SESSIONS, SESSIONS + LOGOUTS);
    await logOut(url, leaving);
    const logoutTotals = await readCounts(gateway.mf);
    const logoutRow: RowOps = {
      id: "logout",
      requests: leaving.length,
      seconds: 0,
      requestsPerSecond: undefined,
      errors: 0,
      totals: logoutTotals,
      perRequest: perRequest(logoutTotals, leaving.length),
    };
    rows.push(logoutRow);

    // One logout at a time, then the publishes the last one scheduled (the ledger's alarms).
    const quiet = sessions.slice(SESSIONS + LOGOUTS, SESSIONS + LOGOUTS + QUIET_LOGOUTS);
    await resetCounts(gateway.mf);
    await logOutSpaced(url, quiet, QUIET_SPACING_MS);
    await sleep(2_500);
    const quietTotals = await readCounts(gateway.mf);
    const quietRowOps: RowOps = {
      id: "logout-quiet",
      requests: quiet.length,
      seconds: 0,
      requestsPerSecond: undefined,
      errors: 0,
      totals: quietTotals,
      perRequest: perRequest(quietTotals, quiet.length),
    };
    rows.push(quietRowOps);
    log(`  ${name} logout-quiet ${JSON.stringify(quietTotals)}`);

    // Valid requests while revocations flow: each period, every shard has changed.
    const revoking = sessions.slice(SESSIONS + LOGOUTS + QUIET_LOGOUTS);
    const revokingRow = await loadRow("valid-revoking", await bearer(10_000), undefined, () =>
      logOutSpaced(url, revoking, (DURATION * 1000) / revoking.length),
    );

    const loginRow = rows.find((row) => row.id === "login") as RowOps;
    const validWarm = rows.find((row) => row.id === "valid-256") as RowOps;
    // With the ledger, an isolate's reads follow its cache periods and the shards that
    // changed, whatever its traffic: per-event KV reads are left to the model.
    const perEvent = (counts: BindingCounts) => (withLedger ? { ...counts, kvReads: 0 } : counts);
    const periods = (row: RowOps) => Math.max(1, row.seconds / CACHE_SECONDS);
    return {
      name,
      commit: "",
      rows,
      ops: {
        design: withLedger ? "shards" : "keys",
        validRequest: perEvent(validWarm.perRequest),
        validNewToken: perEvent(valid10k.perRequest),
        refresh: perEvent(refreshRow.perRequest),
        refreshExpiry: perEvent(refreshExpiry.perRequest),
        login: perEvent(loginRow.perRequest),
        logout: perEvent(logoutRow.perRequest),
        logoutQuiet: perEvent(quietRowOps.perRequest),
        revoking: {
          logoutsPerSecond: revoking.length / revokingRow.seconds,
          kvReadsPerCachePeriod: revokingRow.totals.kvReads / periods(revokingRow),
          kvWritesPerSecond: revokingRow.totals.kvWrites / revokingRow.seconds,
        },
      },
    };
  } finally {
    await servedBy(running).stop();
  }
}

async function main(): Promise<void> {
  const ref = values.before ?? "main";
  const dirty = git("status", "--porcelain", "--", "src", "wrangler.toml") !== "";
  const commits = {
    before: git("rev-parse", "--short", ref),
    after: git("rev-parse", "--short", "HEAD") + (dirty ? "+" : ""),
  };
  log(
    `bundling before (${ref} = ${commits.before}) and after (${commits.after}${dirty ? " + uncommitted changes" : ""})…`,
  );
  const beforeBundle = bundleAt(ref);
  buildWorker();
  const upstreamChild = await startBenchUpstream();
  atCleanUp(() => upstreamChild.stop());
  const upstream = { url: upstreamChild.ready.url as string, pid: upstreamChild.pid };
  const startedAt = new Date().toISOString();
  try {
    const variants: VariantResult[] = [];
    const plans: Array<{ name: string; bundle: string; vars: Record<string, string>; commit: string }> = [
      { name: "before", bundle: beforeBundle, vars: {}, commit: commits.before },
      { name: "after", bundle: BUNDLE, vars: {}, commit: commits.after },
      {
        name: "after, ROTATION_RECORD=session",
        bundle: BUNDLE,
        vars: { ROTATION_RECORD: "session" },
        commit: commits.after,
      },
    ];
    for (const plan of plans) {
      const result = await measureVariant(plan.name, plan.bundle, upstream, plan.vars);
      variants.push({ ...result, commit: plan.commit });
    }
    const report = {
      startedAt,
      options: { durationSeconds: DURATION, connections: CONNECTIONS, revocationCacheSeconds: CACHE_SECONDS },
      assumptions: DEFAULT_ASSUMPTIONS,
      variants: variants.map((variant) => ({
        ...variant,
        daily: dailyCost(variant.ops),
        freePlan: freePlanCeiling(variant.ops),
      })),
    };
    process.stdout.write(`${formatCostReport(report)}\n`);
    const outDir = values.out ?? path.join(ROOT, "docs");
    mkdirSync(outDir, { recursive: true });
    writeFileSync(path.join(outDir, "cost.json"), `${JSON.stringify(report, null, 2)}\n`);
    log(`wrote ${path.relative(ROOT, path.join(outDir, "cost.json"))}`);
    const failed = variants.flatMap((variant) =>
      variant.rows.filter((row) => row.errors > 0).map((row) => `${variant.name}/${row.id}`),
    );
    if (failed.length > 0) {
      log(`rows with errors: ${failed.join(", ")}`);
      process.exitCode = 1;
    }
  } finally {
    await cleanUp();
  }
}

await main();
process.exit(process.exitCode ?? 0);
