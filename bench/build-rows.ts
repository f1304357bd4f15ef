/**
 * `--builds <ref,…>`: the Worker built at `ref` (`.`: the working tree), in a workerd of
 * its own, on three rows: the public route and a valid token (both against a lone
 * pass-through, `bare-own`), and a transparent refresh with its stores in yet another
 * workerd (against the store-calls probe, as the split refresh row). So a change's before
 * and after come from one run, in interleaved rounds.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, symlinkSync } from "node:fs";
import path from "node:path";
import type autocannon from "autocannon";
import { BUNDLE, ROOT } from "../test/support/build-worker";
import type { Gateway } from "../test/support/gateway";
import {
  type RunningGateway,
  type Session,
  servedBy,
  sessionRequests,
  startBenchGateway,
  staticRequests,
  validTokenHeaders,
} from "./bench-gateway";
import type { RowResult } from "./results";
import { startSplitGateway, startSplitStores } from "./split-stores";

export interface RowPlan {
  readonly id: string;
  readonly label: string;
  readonly server: RowResult["server"];
  readonly baseline: string | undefined;
  /** Starts what the row needs; returns the URL, the server pid, a stop function and the gateway whose bindings are counted. */
  prepare(): Promise<{ url: string; pid: number; stop?: () => Promise<void>; counted?: Gateway["mf"] }>;
  requests(phase: "warmup" | "measure"): autocannon.Request[];
}

/**
 * Bundle the Worker as it was at `ref`, with this checkout's node_modules (also bench:cost's
 * "before"). Only the bundle is kept: the unpacked tree's package.json would otherwise meet
 * the package checks (publint) of the next `npm test`.
 */
export function bundleAt(ref: string): string {
  const dir = path.join(ROOT, "dist/bench-at", ref.replace(/[^A-Za-z0-9._-]/g, "_"));
  rmSync(dir, { recursive: true, force: true });
  const tree = path.join(dir, "tree");
  mkdirSync(tree, { recursive: true });
  const archive = execFileSync("git", ["archive", ref, "src", "wrangler.toml", "tsconfig.json", "package.json"], {
    cwd: ROOT,
  });
  execFileSync("tar", ["-x", "-C", tree], { input: archive });
  symlinkSync(path.join(ROOT, "node_modules"), path.join(tree, "node_modules"));
  const out = path.join(dir, "bundle");
  execFileSync(
    path.join(ROOT, "node_modules/.bin/wrangler"),
    ["deploy", "--dry-run", "--env", "production", "--outdir", out],
    { cwd: tree, stdio: "pipe", env: { ...process.env, WRANGLER_SEND_METRICS: "false", WRANGLER_LOG: "error" } },
  );
  rmSync(tree, { recursive: true, force: true });
  return path.join(out, "index.js");
}

/** The baseline of every build's split refresh row: the harness's probe row. */
export const STORE_CALLS_PROBE = "store-calls-probe";

/** `sessionCount`: sessions for the refresh row (bench-gateway.ts, refreshSessionCount). */
export function buildRows(ref: string, upstreamUrl: string, sessionCount: number): RowPlan[] {
  // Built once, on the first row that needs it.
  let bundle: string | undefined;
  const bundleOfRef = () => {
    bundle ??= ref === "." ? BUNDLE : bundleAt(ref);
    return bundle;
  };
  let running: Promise<{ gateway: RunningGateway; headers: Array<Record<string, string>> }> | undefined;
  let users = 0;
  const start = () => {
    running ??= (async () => {
      const gateway = await startBenchGateway(upstreamUrl, { bundle: bundleOfRef() });
      return { gateway, headers: await validTokenHeaders(gateway.gateway) };
    })();
    users++;
    return running;
  };
  const stop = async () => {
    if (--users > 0 || running === undefined) return;
    await servedBy((await running).gateway).stop();
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
  const sessions: Session[] = [];
  return [
    row("gateway-public", "gateway, public route", () => [{ method: "GET", path: "/health" }]),
    row("gateway-valid", "gateway, valid token", () => staticRequests(headers)),
    {
      id: `gateway-refresh-split@${ref}`,
      label: `gateway, transparent refresh, stores in another workerd: ${name} (added: over the probe)`,
      server: "workerd",
      baseline: STORE_CALLS_PROBE,
      prepare: async () => {
        // The stores run this build's own session object and ledger.
        const stores = await startSplitStores(bundleOfRef());
        const { served, sessions: made } = await startSplitGateway(upstreamUrl, stores, sessionCount, bundleOfRef());
        sessions.push(...made);
        return {
          ...served,
          stop: async () => {
            await served.stop();
            await stores.close();
          },
        };
      },
      requests: () => sessionRequests(sessions),
    },
  ];
}
