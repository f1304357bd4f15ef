/**
 * Counts the billable binding operations a gateway makes, for real, inside workerd: the
 * KV namespace becomes an RPC entrypoint (CountingKv) that wraps a real one, and the
 * Durable Object classes are subclasses of the bundle's own that count every call of
 * their methods (a billed request: each RPC method call and each alarm) and every storage
 * row they write (put keys, deleted keys, alarms set, rows SQL statements write). The same
 * shape as test/support/faults.ts.
 *
 * Works for any bundle of the Worker: one without a RevocationLedger (an older commit)
 * simply has no REVOCATIONS binding to count.
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Miniflare } from "miniflare";

export interface BindingCounts {
  kvReads: number;
  kvWrites: number;
  kvDeletes: number;
  kvLists: number;
  doRequests: number;
  doStorageWrites: number;
}

const COUNTING_WORKER = "binding-counts";

function countingModule(withLedger: boolean): string {
  return `
import { WorkerEntrypoint } from "cloudflare:workers";
import * as bundle from "./index.js";

const counts = { kvReads: 0, kvWrites: 0, kvDeletes: 0, kvLists: 0, doRequests: 0, doStorageWrites: 0 };

function countStorage(storage) {
  const put = storage.put.bind(storage);
  const del = storage.delete.bind(storage);
  const deleteAll = storage.deleteAll.bind(storage);
  const setAlarm = storage.setAlarm.bind(storage);
  storage.put = (key, value, options) => {
    counts.doStorageWrites += typeof key === "string" ? 1 : Object.keys(key).length;
    return put(key, value, options);
  };
  storage.delete = (keys, options) => {
    counts.doStorageWrites += Array.isArray(keys) ? keys.length : 1;
    return del(keys, options);
  };
  storage.deleteAll = (options) => { counts.doStorageWrites += 1; return deleteAll(options); };
  storage.setAlarm = (time, options) => { counts.doStorageWrites += 1; return setAlarm(time, options); };
  // SQL: the rows a statement writes, index entries included, as billed. Known when exec
  // returns for a statement without RETURNING (the gateway's code has none).
  const sql = storage.sql;
  const exec = sql.exec.bind(sql);
  sql.exec = (query, ...bindings) => {
    const cursor = exec(query, ...bindings);
    counts.doStorageWrites += cursor.rowsWritten;
    return cursor;
  };
}

/**
 * The bundle's Durable Object class with every method of its own counted as a billed
 * request (each is an RPC method or the alarm), whatever its name and arguments, and its
 * storage writes counted.
 */
function counted(Base) {
  const Counted = class extends Base {
    constructor(ctx, env) { super(ctx, env); countStorage(ctx.storage); }
  };
  for (const name of Object.getOwnPropertyNames(Base.prototype)) {
    const method = Object.getOwnPropertyDescriptor(Base.prototype, name).value;
    if (name === "constructor" || typeof method !== "function") continue;
    Counted.prototype[name] = function (...args) { counts.doRequests++; return method.apply(this, args); };
  }
  return Counted;
}

export class CountingKv extends WorkerEntrypoint {
  async get(key, options) { counts.kvReads++; return this.env.INNER.get(key, options); }
  async put(key, value, options) { counts.kvWrites++; return this.env.INNER.put(key, value, options); }
  async delete(key) { counts.kvDeletes++; return this.env.INNER.delete(key); }
  async list(options) { counts.kvLists++; return this.env.INNER.list(options); }
}

export const CountingSession = counted(bundle.SessionObject);
${withLedger ? "export const CountingLedger = counted(bundle.RevocationLedger);" : ""}

export default {
  async fetch(request) {
    if (new URL(request.url).pathname === "/reset") for (const name of Object.keys(counts)) counts[name] = 0;
    return Response.json(counts);
  },
};
`;
}

/** Whether the Worker at `bundle` has the revocation ledger (an older commit does not). */
export function hasLedger(bundle: string): boolean {
  return /export\s*\{[^}]*\bRevocationLedger\b/.test(readFileSync(bundle, "utf8"));
}

/**
 * Miniflare options (for startGateway) that route the gateway's REVOKED, SESSIONS and
 * REVOCATIONS through the counting worker. `bundle` is the Worker's index.js; the counting
 * module is written next to it. Merge `workerOptions` into the gateway worker's options
 * and append `extraWorkers`.
 */
export function countingOptions(bundle: string) {
  const withLedger = hasLedger(bundle);
  const scriptPath = path.join(path.dirname(bundle), "binding-counts.mjs");
  writeFileSync(scriptPath, countingModule(withLedger));
  const objects = (scriptName?: string) => ({
    SESSIONS: { className: "CountingSession", useSQLite: true, ...(scriptName ? { scriptName } : {}) },
    ...(withLedger
      ? { REVOCATIONS: { className: "CountingLedger", useSQLite: true, ...(scriptName ? { scriptName } : {}) } }
      : {}),
  });
  return {
    workerOptions: {
      kvNamespaces: {},
      serviceBindings: { REVOKED: { name: COUNTING_WORKER, entrypoint: "CountingKv" } },
      durableObjects: objects(COUNTING_WORKER),
    },
    extraWorkers: [
      {
        name: COUNTING_WORKER,
        modules: true,
        modulesRules: [{ type: "ESModule", include: ["**/*.js", "**/*.mjs"] }],
        scriptPath,
        compatibilityDate: "2026-04-01",
        kvNamespaces: { INNER: "revoked" },
        // The ledger publishes through the same counted KV the gateway reads.
        serviceBindings: { REVOKED: { name: COUNTING_WORKER, entrypoint: "CountingKv" } },
        durableObjects: objects(),
      },
    ],
  };
}

async function call(mf: Miniflare, pathname: string): Promise<BindingCounts> {
  const worker = await mf.getWorker(COUNTING_WORKER);
  const response = await worker.fetch(`http://counts${pathname}`);
  return (await response.json()) as BindingCounts;
}

export const resetCounts = (mf: Miniflare) => call(mf, "/reset");
export const readCounts = (mf: Miniflare) => call(mf, "/");

/** Operations per request, from the counts over `requests` requests. */
export function perRequest(counts: BindingCounts, requests: number): BindingCounts {
  const per = (value: number) => (requests > 0 ? value / requests : 0);
  return {
    kvReads: per(counts.kvReads),
    kvWrites: per(counts.kvWrites),
    kvDeletes: per(counts.kvDeletes),
    kvLists: per(counts.kvLists),
    doRequests: per(counts.doRequests),
    doStorageWrites: per(counts.doStorageWrites),
  };
}
