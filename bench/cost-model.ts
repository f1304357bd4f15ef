/**
 * What Portcullis costs to run on Cloudflare, from measured binding operations per
 * request (bench/binding-counts.ts) and Cloudflare's published prices. Pure arithmetic,
 * so docs/cost.md and `npm run bench:cost` compute the same numbers.
 *
 * Prices as published on the pages docs/cost.md cites (read 2026-11-28). Paid-plan
 * monthly inclusions are left out of the marginal figures: they are small next to the
 * scale modelled, and the model is about how cost grows.
 */
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
  /** Isolates running the gateway at once, worldwide, all day (they read the snapshot). */
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
  /** "keys": a KV key per revoked token (before); "snapshot": the ledger's published snapshot. */
  readonly design: "keys" | "snapshot";
  /** Per valid request, once the isolate is warm (snapshot/KV answers cached per its rules). */
  readonly validRequest: BindingCounts;
  /** Per valid request when every token is new to the isolate (the 10,000-token row). */
  readonly validNewToken: BindingCounts;
  readonly refresh: BindingCounts;
  readonly login: BindingCounts;
  readonly logout: BindingCounts;
  /**
   * KV reads an isolate makes per REVOCATION_CACHE_SECONDS whatever its traffic (the
   * snapshot design). When set, the per-event `kvReads` are zero: reads follow time and
   * isolates, not requests.
   */
  readonly kvReadsPerIsolatePerCachePeriod: number;
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
  // An isolate reads the snapshot only when a request needs it: never more reads than requests.
  const snapshotReads = Math.min(
    a.isolates * (86_400 / Math.max(1, a.revocationCacheSeconds)) * ops.kvReadsPerIsolatePerCachePeriod,
    ops.design === "snapshot" ? requests : 0,
  );
  const sum = (field: keyof BindingCounts) =>
    warmRequests * ops.validRequest[field] +
    newTokenRequests * ops.validNewToken[field] +
    refreshes * ops.refresh[field] +
    logins * ops.login[field] +
    logouts * ops.logout[field];
  const operations = {
    kvReads: sum("kvReads") + snapshotReads,
    // The snapshot design publishes at most once a second; the bench's bursts of logouts
    // share publishes, a quiet day does not: count one publish per logout, up to that cap.
    kvWrites: ops.design === "snapshot" ? Math.min(logouts, 86_400) : sum("kvWrites"),
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
  // Per user, with the worst case for snapshot reads: every request of the day reads it.
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
