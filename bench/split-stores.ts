/**
 * The refresh row's stores in a workerd of their own: the session Durable Object and the
 * revocation KV run in a second Miniflare (its own workerd process), reached from the
 * gateway over the dev registry, as in production they run outside the Worker's isolate.
 * The gateway's workerd then spends CPU only on the Worker itself, its HTTP, its outbound
 * fetch and the calls out; that is what the split refresh row meters.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Miniflare } from "miniflare";
import { BUNDLE } from "../test/support/build-worker";
import { createSessions, type ServedRow, type Session, servedBy, startBenchGateway, UNLIMITED } from "./bench-gateway";

const HOST_NAME = "portcullis-stores";

// The bundle's own SessionObject and RevocationLedger, and KV behind an RPC entrypoint
// with KV's methods.
const HOST_MODULE = `
import { WorkerEntrypoint } from "cloudflare:workers";
export { RevocationLedger, SessionObject } from "./index.js";

export class RevocationKv extends WorkerEntrypoint {
  get(key, options) { return this.env.KV.get(key, options); }
  put(key, value, options) { return this.env.KV.put(key, value, options); }
  delete(key) { return this.env.KV.delete(key); }
  list(options) { return this.env.KV.list(options); }
}

export default { fetch() { return new Response("stores"); } };
`;

// Everything a transparent refresh makes the runtime do outside the Worker's own code,
// and nothing else: the client's request forwarded to the upstream and its answer streamed
// back (as the bare pass-through does), one rate-limit call, a real rotation of a real
// session in the session object, the replaced token's id recorded in a revocation ledger,
// and a KV read of the revocation snapshot as often as the gateway makes one (once per
// REVOCATION_CACHE_SECONDS, 5 s in the bench, not once per request: measured, 0.003 KV
// reads per refresh).
//
// The rotation has to be real. A rotation of an unknown token answers at once, and a
// Worker that waits less does less work per request in workerd than one that waits
// longer: measured, a gateway whose refresh only waited 40 ms on a timer, with no store
// call at all, used 127 µs/request more than the same gateway not waiting. So the probe
// waits as the gateway waits, on the same work in the session object.
const PROBE_SCRIPT = `
let snapshotReadAt = -Infinity;
/** Sessions between requests, each with its current refresh token. */
const idle = [];

function newSid() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes)).replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
}

async function session(env) {
  const ready = idle.pop();
  if (ready !== undefined) return ready;
  const sid = newSid();
  const stub = env.SESSIONS.get(env.SESSIONS.idFromName(sid));
  const created = await stub.create({
    sid, sub: "probe", scope: ["read"], roles: [], now: Date.now(), refreshTtlSeconds: 86400, idleTtlSeconds: 86400,
  });
  return { sid, token: created.refreshToken };
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const current = await session(env);
    await env.REFRESH_IP_LIMIT.limit({ key: "ip:127.0.0.1" });
    const stub = env.SESSIONS.get(env.SESSIONS.idFromName(current.sid));
    const rotated = await stub.rotate({ token: current.token, now: Date.now(), graceSeconds: 10 });
    if (!rotated.ok) return new Response("rotation refused: " + rotated.reason, { status: 500 });
    idle.push({ sid: current.sid, token: rotated.refreshToken });
    const ledger = env.REVOCATIONS.get(env.REVOCATIONS.idFromName("rotations:" + current.sid.slice(0, 1)));
    await ledger.record([{ kind: "rt", id: "rt." + rotated.replacedHash.slice(0, 32), reason: "rotated", ttlSeconds: 60 }]);
    if (Date.now() - snapshotReadAt >= 5000) {
      snapshotReadAt = Date.now();
      await env.REVOKED.get("probe");
    }
    return fetch(env.UPSTREAM_URL + url.pathname + url.search, request);
  },
};
`;

/** The stores as the gateway and the probe bind them: KV, the session objects and the ledger, in the stores' workerd. */
const REMOTE_STORES = {
  serviceBindings: { REVOKED: { name: HOST_NAME, entrypoint: "RevocationKv" } },
  durableObjects: {
    SESSIONS: { className: "SessionObject", scriptName: HOST_NAME, useSQLite: true },
    REVOCATIONS: { className: "RevocationLedger", scriptName: HOST_NAME, useSQLite: true },
  },
};

export interface SplitStores {
  /** Miniflare options for the gateway worker that bind SESSIONS, REVOCATIONS and REVOKED to the stores. */
  readonly gatewayOptions: Record<string, unknown>;
  /** Miniflare options the gateway's instance must share (the dev registry). */
  readonly sharedOptions: Record<string, unknown>;
  readonly mf: Miniflare;
  /**
   * A Worker in a workerd of its own that only makes a refresh's store calls through the
   * same bindings: its CPU is what those calls (and miniflare's dev-registry proxying of
   * them) cost the caller's process, to subtract from the split refresh row.
   */
  startProbe(upstreamUrl: string): Promise<Miniflare>;
  close(): Promise<void>;
}

/** `bundle`: the Worker whose session object and ledger the stores run (the working tree's by default). */
export async function startSplitStores(bundle = BUNDLE): Promise<SplitStores> {
  const registry = mkdtempSync(path.join(os.tmpdir(), "portcullis-registry-"));
  const scriptPath = path.join(path.dirname(bundle), "stores-host.mjs");
  writeFileSync(scriptPath, HOST_MODULE);
  const mf = new Miniflare({
    name: HOST_NAME,
    modules: true,
    modulesRules: [{ type: "ESModule", include: ["**/*.js", "**/*.mjs"] }],
    scriptPath,
    compatibilityDate: "2026-04-01",
    unsafeDevRegistryPath: registry,
    kvNamespaces: { KV: "revoked", REVOKED: "revoked" },
    durableObjects: {
      SESSIONS: { className: "SessionObject", useSQLite: true },
      REVOCATIONS: { className: "RevocationLedger", useSQLite: true },
    },
  });
  await mf.ready;
  return {
    mf,
    sharedOptions: { unsafeDevRegistryPath: registry },
    gatewayOptions: {
      kvNamespaces: {},
      ...REMOTE_STORES,
    },
    startProbe: async (upstreamUrl) => {
      const probe = new Miniflare({
        name: "portcullis-store-probe",
        modules: true,
        script: PROBE_SCRIPT,
        compatibilityDate: "2026-04-01",
        bindings: { UPSTREAM_URL: upstreamUrl },
        ratelimits: { REFRESH_IP_LIMIT: UNLIMITED },
        unsafeDevRegistryPath: registry,
        unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
        ...REMOTE_STORES,
      });
      await probe.ready;
      return probe;
    },
    close: async () => {
      await mf.dispose();
      rmSync(registry, { recursive: true, force: true });
    },
  };
}

/**
 * What a split refresh row serves: a gateway (the Worker at `bundle`) whose stores are
 * `stores`, and `sessionCount` sessions made through it.
 */
export async function startSplitGateway(
  upstreamUrl: string,
  stores: SplitStores,
  sessionCount: number,
  bundle = BUNDLE,
): Promise<{ served: ServedRow; sessions: Session[] }> {
  const split = await startBenchGateway(upstreamUrl, { stores, bundle });
  const sessions = await createSessions(split, sessionCount, 60);
  return { served: servedBy(split), sessions };
}
