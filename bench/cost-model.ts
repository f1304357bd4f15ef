/**
 * What Portcullis costs to run on Cloudflare, from measured binding operations per
 * request (bench/binding-counts.ts) and Cloudflare's published prices. Pure arithmetic,
 * so docs/cost.md and `npm run bench:cost` compute the same numbers.
 *
 * Prices as published on the pages docs/cost.md cites (read 2026-11-28). Paid-plan
 * monthly inclusions are left out of the marginal figures: they are small next to the
 * scale modelled, and the model is about how cost grows.
 */
import { REVOCATION_SHARDS } from "../src/revocation/key-hash";
import type { BindingCounts } from "./binding-counts";

/** US dollars per million operations (per million GB-s for duration, per million CPU-ms). */
export const PRICES = {
  workersRequest: 0.3,
  workersCpuMs: 0.02,
  kvRead: 0.5,
  kvWrite: 5.0,
  kvDelete: 5.0,
  kvList: 5.0,
  doRequest: 0.15,
  doDurationGbS: 12.5,
  doRowWritten: 1.0,
} as const;

/**
 * Ledger entries a logout records: the access token's `jti` and the session's `sid`
 * (src/auth/logout.ts), each in the shard its key hashes to, in calls of their own.
 */
export const ENTRIES_PER_LOGOUT = 2;
/**
 * KV reads an isolate makes per REVOCATION_CACHE_SECONDS when no shard changed: the
 * manifest, read at most once a period (src/revocation/published-revocations.ts) and every
 * period by an isolate that gets requests (the valid rows read it 2-3 times in 12 s).
 */
const MANIFEST_READS_PER_PERIOD = 1;
/** A ledger instance publishes at most once a second (PUBLISH_INTERVAL_MS). */
const PUBLISHES_PER_DAY = 86_400;

/** The free plan's daily ceilings. */
export const FREE_PLAN = {
  workersRequests: 100_000,
  kvReads: 100_000,
  kvWrites: 1_000,
  doRequests: 100_000,
  doRowsWritten: 100_000,
} as const;

export interface Assumptions {
  readonly dailyUsers: number;
  readonly requestsPerUser: number;
  readonly activeHours: number;
  /** Seconds. */
  readonly accessTokenTtl: number;
  /** Logins and logouts per user per day. */
  readonly loginsPerUser: number;
  readonly logoutsPerUser: number;
  /** Isolates running the gateway at once, worldwide, all day (each reads the manifest every period). */
  readonly isolates: number;
  readonly revocationCacheSeconds: number;
  /** CPU ms the gateway spends per request (benchmarks.md: ~0.35 ms on the valid-token row). */
  readonly cpuMsPerRequest: number;
  /** Wall-clock ms a Durable Object is active per call (128 MB each). */
  readonly doActiveMsPerCall: number;
}

export const DEFAULT_ASSUMPTIONS: Assumptions = {
  dailyUsers: 1_000_000,
  requestsPerUser: 100,
  activeHours: 8,
  accessTokenTtl: 900,
  loginsPerUser: 0.1,
  logoutsPerUser: 0.1,
  isolates: 300,
  revocationCacheSeconds: 5,
  cpuMsPerRequest: 0.35,
  doActiveMsPerCall: 10,
};

/** Measured operations per event, for one variant of the code. */
export interface MeasuredOps {
  /**
   * "keys": a KV key per revoked token (before); "shards": the ledger's manifest and 16
   * shards, whose per-event `kvReads` are zero: reads follow time, isolates and the shards
   * that changed, not requests.
   */
  readonly design: "keys" | "shards";
  /** Per valid request, once the isolate is warm (KV answers cached per its rules). */
  readonly validRequest: BindingCounts;
  /** Per valid request when every token is new to the isolate (the 10,000-token row). */
  readonly validNewToken: BindingCounts;
  readonly refresh: BindingCounts;
  /** Per refresh, later: its ledger record expiring (the alarm that prunes it, the rows deleted). */
  readonly refreshExpiry: BindingCounts;
  readonly login: BindingCounts;
  /** Per logout in a burst (8 at a time): logouts share publishes. */
  readonly logout: BindingCounts;
  /** Per logout, one at a time: each gets publishes of its own (what the model charges). */
  readonly logoutQuiet: BindingCounts;
  /** The valid-revoking row: one isolate's KV reads per period, and KV writes a second, while logouts flow. */
  readonly revoking: {
    readonly logoutsPerSecond: number;
    readonly kvReadsPerCachePeriod: number;
    readonly kvWritesPerSecond: number;
  };
}

/**
 * Shards an isolate reads in one period besides the manifest: those that changed (a
 * shard is read when the manifest names a newer version and a token checked falls in
 * it), assuming revocations spread evenly over the day and an isolate that checks a token
 * in every changed shard (an upper bound: a busy isolate checks three keys a request).
 * Expected distinct shards among `entries` keys hashed evenly over 16: 16 (1 - (15/16)^n).
 */
export function changedShardsPerPeriod(entriesPerDay: number, cacheSeconds: number): number {
  const entries = (entriesPerDay / 86_400) * Math.max(1, cacheSeconds);
  return REVOCATION_SHARDS * (1 - (1 - 1 / REVOCATION_SHARDS) ** entries);
}

export interface DailyCost {
  readonly events: { requests: number; refreshes: number; logins: number; logouts: number };
  readonly operations: BindingCounts & { workersRequests: number };
  /** Dollars a day, per component. */
  readonly dollars: Record<"workers" | "kvReads" | "kvWrites" | "doRequests" | "doDuration" | "doStorage", number>;
  readonly total: number;
}

/**
 * A day of traffic. Valid requests are counted with the new-token rate for the first
 * request of each access token in each isolate it reaches (assumed: one isolate per token,
 * the best case for the old design) and the warm rate for the rest.
 */
export function dailyCost(ops: MeasuredOps, assumptions: Assumptions = DEFAULT_ASSUMPTIONS): DailyCost {
  const a = assumptions;
  const refreshes = a.dailyUsers * Math.ceil((a.activeHours * 3600) / a.accessTokenTtl);
  const requests = a.dailyUsers * a.requestsPerUser;
  const logins = a.dailyUsers * a.loginsPerUser;
  const logouts = a.dailyUsers * a.logoutsPerUser;
  const newTokenRequests = Math.min(requests, refreshes + logins);
  const warmRequests = requests - newTokenRequests;
  const shards = ops.design === "shards";
  const entries = logouts * ENTRIES_PER_LOGOUT;
  // An isolate reads the manifest each period, and each shard that changed in it; only
  // when a request needs it: never more reads than requests.
  const readsPerPeriod = MANIFEST_READS_PER_PERIOD + changedShardsPerPeriod(entries, a.revocationCacheSeconds);
  const publishedReads = shards
    ? Math.min(a.isolates * (86_400 / Math.max(1, a.revocationCacheSeconds)) * readsPerPeriod, requests)
    : 0;
  // Each entry gets a shard publish and each publish an announce that the manifest
  // publishes, as when logouts come one at a time (logoutQuiet); at most once a second
  // per shard and once a second for the manifest, which bursts reach.
  const manifestWritesPerLogout = Math.max(0, ops.logoutQuiet.kvWrites - ENTRIES_PER_LOGOUT);
  const publishedWrites =
    Math.min(entries, REVOCATION_SHARDS * PUBLISHES_PER_DAY) +
    Math.min(logouts * manifestWritesPerLogout, PUBLISHES_PER_DAY);
  const sum = (field: keyof BindingCounts) =>
    warmRequests * ops.validRequest[field] +
    newTokenRequests * ops.validNewToken[field] +
    refreshes * (ops.refresh[field] + ops.refreshExpiry[field]) +
    logins * ops.login[field] +
    logouts * ops.logoutQuiet[field];
  const operations = {
    kvReads: sum("kvReads") + publishedReads,
    kvWrites: shards ? publishedWrites : sum("kvWrites"),
    kvDeletes: sum("kvDeletes"),
    kvLists: sum("kvLists"),
    doRequests: sum("doRequests"),
    doStorageWrites: sum("doStorageWrites"),
    workersRequests: requests + logins + logouts,
  };
  const million = 1_000_000;
  const dollars = {
    workers:
      (operations.workersRequests / million) * PRICES.workersRequest +
      ((operations.workersRequests * a.cpuMsPerRequest) / million) * PRICES.workersCpuMs,
    kvReads: (operations.kvReads / million) * PRICES.kvRead,
    kvWrites: ((operations.kvWrites + operations.kvDeletes) / million) * PRICES.kvWrite,
    doRequests: (operations.doRequests / million) * PRICES.doRequest,
    doDuration: ((operations.doRequests * (a.doActiveMsPerCall / 1000) * 0.128) / million) * PRICES.doDurationGbS,
    doStorage: (operations.doStorageWrites / million) * PRICES.doRowWritten,
  };
  const total = Object.values(dollars).reduce((sum, value) => sum + value, 0);
  return { events: { requests, refreshes, logins, logouts }, operations, dollars, total };
}

/** How many users a day fit in the free plan, and which ceiling they hit first. */
export function freePlanCeiling(ops: MeasuredOps, assumptions: Assumptions = DEFAULT_ASSUMPTIONS) {
  // Per user, with the worst case for the ledger's reads: every request of the day reads KV.
  const perUser = dailyCost(ops, { ...assumptions, dailyUsers: 1, isolates: Number.MAX_SAFE_INTEGER }).operations;
  const limits: Array<[string, number]> = [
    ["Workers requests", FREE_PLAN.workersRequests / perUser.workersRequests],
    ["KV reads", FREE_PLAN.kvReads / Math.max(perUser.kvReads, 1e-12)],
    ["KV writes", FREE_PLAN.kvWrites / Math.max(perUser.kvWrites + perUser.kvDeletes, 1e-12)],
    ["Durable Object requests", FREE_PLAN.doRequests / Math.max(perUser.doRequests, 1e-12)],
    ["Durable Object rows written", FREE_PLAN.doRowsWritten / Math.max(perUser.doStorageWrites, 1e-12)],
  ];
  limits.sort((x, y) => x[1] - y[1]);
  const [first, users] = limits[0] as [string, number];
  // Users a day each limit allows on its own (an object, so the JSON stays one entry a line).
  return { users: Math.max(0, Math.floor(users)), first, limits: Object.fromEntries(limits) };
}
