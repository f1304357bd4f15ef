/**
 * Fault injection for the gateway's dependencies, inside the same workerd:
 *
 * - REVOKED becomes an RPC entrypoint (FaultyKv) that wraps a real KV namespace;
 * - SESSIONS becomes FlakySession, a subclass of the real SessionObject from the bundle;
 * - REVOCATIONS becomes FlakyLedger, a subclass of the real RevocationLedger, which
 *   publishes through FaultyKv too.
 *
 * Each fails while its switch is on (`setFaults`), and behaves normally once it is off
 * again, so a test can watch the gateway fail and then recover without a restart.
 * `kvWriteLimit` / `kvReadLimit` make KV answer as Cloudflare does once the free plan's
 * daily writes / reads are used up.
 * `queueSessionFailures` makes the next session-object calls throw once each, marked as
 * the platform marks a transient failure (`retryable`, optionally `overloaded`).
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { BUNDLE_DIR } from "./build-worker";
import type { Gateway, GatewayOptions } from "./gateway";

const FAULTS_MODULE = `
import { WorkerEntrypoint } from "cloudflare:workers";
import { RevocationLedger, SessionObject } from "./index.js";

const failing = { kv: false, sessions: false, ledger: false, kvWriteLimit: false, kvReadLimit: false };
const queued = [];
const thrown = { retryable: 0, overloaded: 0 };

function check(kind) {
  if (failing[kind]) throw new Error(kind + " unavailable (injected fault)");
  if (kind === "sessions" && queued.length > 0) {
    const mark = queued.shift();
    thrown[mark] += 1;
    const error = new Error("session object reset (injected " + mark + " fault)");
    error.retryable = true;
    if (mark === "overloaded") error.overloaded = true;
    throw error;
  }
}

export class FaultyKv extends WorkerEntrypoint {
  async get(key, options) {
    check("kv");
    if (failing.kvReadLimit) throw new Error("KV get() limit exceeded for the day.");
    return this.env.INNER.get(key, options);
  }
  async put(key, value, options) {
    check("kv");
    if (failing.kvWriteLimit) throw new Error("KV put() limit exceeded for the day.");
    return this.env.INNER.put(key, value, options);
  }
  async delete(key) { check("kv"); return this.env.INNER.delete(key); }
  async list(options) { check("kv"); return this.env.INNER.list(options); }
}

export class FlakySession extends SessionObject {
  create(input) { check("sessions"); return super.create(input); }
  rotate(input) { check("sessions"); return super.rotate(input); }
  revoke(input) { check("sessions"); return super.revoke(input); }
  isAlive(input) { check("sessions"); return super.isAlive(input); }
}

export class FlakyLedger extends RevocationLedger {
  record(inputs) { check("ledger"); return super.record(inputs); }
}

export default {
  async fetch(request) {
    const url = new URL(request.url);
    for (const kind of Object.keys(failing)) {
      if (url.searchParams.has(kind)) failing[kind] = url.searchParams.get(kind) === "1";
    }
    if (url.searchParams.has("clear")) queued.length = 0;
    for (const mark of url.searchParams.getAll("queue")) queued.push(mark);
    return Response.json({ failing, queued: queued.length, thrown });
  },
};
`;

export type FaultKind = "kv" | "sessions" | "ledger" | "kvWriteLimit" | "kvReadLimit";

/** Options for startGateway that route REVOKED and SESSIONS through the fault worker. */
export function faultInjectionOptions(): Pick<GatewayOptions, "workerOptions" | "extraWorkers"> {
  const scriptPath = path.join(BUNDLE_DIR, "faults.mjs");
  writeFileSync(scriptPath, FAULTS_MODULE);
  return {
    workerOptions: {
      kvNamespaces: {},
      serviceBindings: { REVOKED: { name: "faults", entrypoint: "FaultyKv" } },
      durableObjects: {
        SESSIONS: { className: "FlakySession", scriptName: "faults", useSQLite: true },
        REVOCATIONS: { className: "FlakyLedger", scriptName: "faults", useSQLite: true },
      },
    },
    extraWorkers: [
      {
        name: "faults",
        modules: true,
        modulesRules: [{ type: "ESModule", include: ["**/*.js", "**/*.mjs"] }],
        scriptPath,
        compatibilityDate: "2026-04-01",
        kvNamespaces: { INNER: "revoked" },
        // The ledger publishes through the same faulty KV the gateway reads.
        serviceBindings: { REVOKED: { name: "faults", entrypoint: "FaultyKv" } },
        durableObjects: {
          FLAKY: { className: "FlakySession", useSQLite: true },
          FLAKY_LEDGER: { className: "FlakyLedger", useSQLite: true },
        },
      },
    ],
  };
}

/** Turn injected faults on or off while the gateway runs. */
export async function setFaults(gateway: Gateway, faults: Partial<Record<FaultKind, boolean>>): Promise<void> {
  const query = new URLSearchParams(Object.entries(faults).map(([kind, on]) => [kind, on ? "1" : "0"]));
  const worker = await gateway.mf.getWorker("faults");
  const response = await worker.fetch(`http://faults/?${query}`);
  await response.text();
}

export type SessionFailure = "retryable" | "overloaded";

/**
 * Make the next session-object calls fail once each with the given marks. Resolves to how
 * many of each kind were thrown so far, so a test can tell the fault really happened.
 * `clear` first drops the failures still waiting.
 */
export async function queueSessionFailures(
  gateway: Gateway,
  marks: readonly SessionFailure[],
  options: { clear?: boolean } = {},
): Promise<{ queued: number; thrown: Record<SessionFailure, number> }> {
  const query = new URLSearchParams(marks.map((mark) => ["queue", mark]));
  if (options.clear) query.set("clear", "1");
  const worker = await gateway.mf.getWorker("faults");
  const response = await worker.fetch(`http://faults/?${query}`);
  return (await response.json()) as { queued: number; thrown: Record<SessionFailure, number> };
}
