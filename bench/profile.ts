/**
 * `npm run bench:profile`: where the gateway's CPU time goes inside workerd on the
 * valid-token row (docs/benchmarks.md, "Where the time goes").
 *
 * Runs the Worker, bundled unminified, in workerd as the bench's valid-token row runs it
 * (bench-gateway.ts) with workerd's V8 inspector on, drives it with the row's 256 valid
 * tokens, and records a V8 CPU profile of the gateway's isolate. Each sample is charged to
 * a stage of the pipeline by the innermost frame of ours on its stack (verification,
 * revocation, proxying, …), falling back to the bundle module the leaf frame came from
 * (the bundle marks every module with a `// path` comment). Workerd's own native work
 * (HTTP, the KV simulator) does not run in the isolate and shows only in the process's CPU
 * time, which is reported beside the profile.
 *
 *   npm run bench:profile -- [--seconds 8] [--connections 16] [--save out.cpuprofile]
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { buildWorker, READABLE_BUNDLE_DIR } from "../test/support/build-worker";
import { startBenchGateway, startBenchUpstream, staticRequests, validTokenHeaders } from "./bench-gateway";
import { atCleanUp, cleanUp, cpuMillis } from "./processes";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Innermost function of ours on the stack → pipeline stage. Checked leaf to root. */
const STAGES: ReadonlyArray<readonly [RegExp, string]> = [
  [/^(verifyAccessToken|inspectToken|readClaims|jwtVerify|compactVerify|flattenedVerify)$/, "verify access token"],
  [/^(revokedBecause|isSubjectRevoked|isTokenRevoked|revokeToken|revokeSession|#read|#write)$/, "revocation (KV)"],
  [
    /^(sendUpstream|upstreamRequestInit|upstreamHeaders|identityHeaders|withoutGatewayCookies|forward|applyRefresh)$/,
    "proxying",
  ],
  [
    /^(requestContext|PerRequestContext|makeShared|requestIdOf|configFor|keyRingFor|get (revocations|metrics|sessions|clientIp))$/,
    "request context",
  ],
  [/^(readAccessToken|bearerToken|cookieValues)$/, "read credentials"],
  [/^(decideRoute|missingGrants)$/, "route policy"],
];

function moduleMap(bundle: string): Array<{ line: number; module: string }> {
  const marks: Array<{ line: number; module: string }> = [];
  bundle.split("\n").forEach((text, index) => {
    const match = /^\/\/ ((?:src|node_modules)\/\S+)$/.exec(text);
    if (match?.[1]) marks.push({ line: index, module: match[1] });
  });
  return marks;
}

function moduleAt(marks: Array<{ line: number; module: string }>, line: number): string | undefined {
  let found: string | undefined;
  for (const mark of marks) {
    if (mark.line > line) break;
    found = mark.module;
  }
  return found;
}

function moduleGroup(module: string): string {
  if (module.startsWith("node_modules/jose/")) return "jose (other)";
  if (module.startsWith("node_modules/hono/")) return "hono (routing, context)";
  return module;
}

/** Self time by leaf function (name and bundle module), the profile's "bottom-up" view. */
function selfTimes(profile: CpuProfile, bundle: string): Map<string, number> {
  const marks = moduleMap(bundle);
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const totals = new Map<string, number>();
  profile.samples.forEach((sample, index) => {
    const frame = byId.get(sample)?.callFrame;
    if (frame === undefined || frame.functionName === "(idle)") return;
    const where = frame.url === "" ? "native" : (moduleAt(marks, frame.lineNumber) ?? frame.url);
    const key = `${frame.functionName || "(anonymous)"} — ${where}`;
    totals.set(key, (totals.get(key) ?? 0) + (profile.timeDeltas[index] ?? 0));
  });
  return totals;
}

function attribute(profile: CpuProfile, bundle: string): Map<string, number> {
  const marks = moduleMap(bundle);
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const totals = new Map<string, number>();
  profile.samples.forEach((sample, index) => {
    const delta = profile.timeDeltas[index] ?? 0;
    let stage: string | undefined;
    let leafModule: string | undefined;
    const leaf = byId.get(sample);
    const special = leaf?.callFrame.functionName ?? "";
    if (special === "(idle)" || special === "(program)" || special === "(garbage collector)") stage = special;
    for (let id: number | undefined = sample; id !== undefined && stage === undefined; id = parent.get(id)) {
      const node = byId.get(id);
      if (node === undefined) break;
      const name = node.callFrame.functionName;
      const matched = STAGES.find(([pattern]) => pattern.test(name));
      if (matched) stage = matched[1];
      if (leafModule === undefined && node.callFrame.url !== "") {
        leafModule = moduleAt(marks, node.callFrame.lineNumber);
      }
    }
    stage ??= leafModule === undefined ? `native: ${special || "(anonymous)"}` : moduleGroup(leafModule);
    totals.set(stage, (totals.get(stage) ?? 0) + delta);
  });
  return totals;
}

class Inspector {
  readonly #socket: WebSocket;
  #next = 1;
  readonly #pending = new Map<number, (result: unknown) => void>();

  private constructor(socket: WebSocket) {
    this.#socket = socket;
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown };
      if (message.id !== undefined) this.#pending.get(message.id)?.(message.result);
    });
  }

  static async connect(url: string): Promise<Inspector> {
    const socket = new WebSocket(url);
    await new Promise((resolve, reject) => {
      socket.addEventListener("open", resolve, { once: true });
      socket.addEventListener("error", reject, { once: true });
    });
    return new Inspector(socket);
  }

  send<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.#next++;
    return new Promise<T>((resolve) => {
      this.#pending.set(id, resolve as (result: unknown) => void);
      this.#socket.send(JSON.stringify({ id, method, params }));
    });
  }

  close(): void {
    this.#socket.close();
  }
}

const readableBundle = path.join(READABLE_BUNDLE_DIR, "index.js");

const { values } = parseArgs({
  options: {
    /** The one scenario left (the valid-token row); accepted so the commands in the docs still run. */
    scenario: { type: "string", default: "valid" },
    seconds: { type: "string", default: "8" },
    connections: { type: "string", default: "16" },
    /** Also write the raw profile here (a .cpuprofile, which Chrome DevTools opens). */
    save: { type: "string" },
  },
});
if (values.scenario !== "valid") {
  process.stderr.write(`--scenario ${values.scenario}: only "valid" is left (docs/benchmarks.md, the tools)\n`);
  process.exit(2);
}
const seconds = Number(values.seconds);
const connections = Number(values.connections);

// The shipped bundle is minified; samples are charged to modules by the readable one's comments.
buildWorker({ minify: false, outdir: READABLE_BUNDLE_DIR });
const upstream = await startBenchUpstream();
atCleanUp(() => upstream.stop());
const running = await startBenchGateway(upstream.ready.url as string, { bundle: readableBundle, inspector: true });
atCleanUp(() => running.gateway.close());
const requests = staticRequests(await validTokenHeaders(running.gateway));

const { mf } = running.gateway;
const inspectorBase = (await mf.getInspectorURL()).toString().replace(/^ws/, "http").replace(/\/$/, "");
const targets = (await (await fetch(`${inspectorBase}/json/list`)).json()) as Array<{
  title?: string;
  webSocketDebuggerUrl: string;
}>;
const target = targets.find((item) => item.title?.includes("portcullis"));
if (target === undefined) throw new Error("workerd's inspector lists no portcullis worker");
// Warm the isolate before the profile starts.
await autocannon({ url: running.directUrl, connections, duration: 1, requests });

const inspector = await Inspector.connect(target.webSocketDebuggerUrl);
await inspector.send("Profiler.enable");
await inspector.send("Profiler.setSamplingInterval", { interval: 100 });
await inspector.send("Profiler.start");
const cpuBefore = cpuMillis(running.workerdPid);
const result = await autocannon({ url: running.directUrl, connections, duration: seconds, requests });
const cpuUsed = cpuMillis(running.workerdPid) - cpuBefore;
const { profile } = await inspector.send<{ profile: CpuProfile }>("Profiler.stop");
inspector.close();
if (values.save !== undefined) writeFileSync(values.save, JSON.stringify(profile));

const completed = result.requests.total;
const bundle = readFileSync(readableBundle, "utf8");
const busy = [...attribute(profile, bundle).entries()].filter(([stage]) => stage !== "(idle)");
const busyMicros = busy.reduce((sum, [, micros]) => sum + micros, 0);
const leaves = [...selfTimes(profile, bundle).entries()].sort((a, b) => b[1] - a[1]).slice(0, 20);
const lines = [
  `scenario valid: ${completed} requests, ${(completed / result.duration).toFixed(0)} req/s, non-2xx ${result.non2xx}, errors ${result.errors}`,
  `workerd process CPU: ${((cpuUsed * 1000) / completed).toFixed(0)} µs/request (all threads: isolate + HTTP + KV/DO simulators)`,
  `gateway isolate, sampled JS + GC + runtime calls: ${(busyMicros / completed).toFixed(0)} µs/request`,
  "",
  "| stage | µs/request | share of isolate time |",
  "| --- | ---: | ---: |",
  ...busy
    .sort((a, b) => b[1] - a[1])
    .map(
      ([stage, micros]) =>
        `| ${stage} | ${(micros / completed).toFixed(1)} | ${((100 * micros) / busyMicros).toFixed(1)} % |`,
    ),
  "",
  "| leaf function (self time) | µs/request |",
  "| --- | ---: |",
  ...leaves.map(([name, micros]) => `| ${name} | ${(micros / completed).toFixed(1)} |`),
];
process.stdout.write(`${lines.join("\n")}\n`);
await cleanUp();
process.exit(result.errors + result.non2xx > 0 ? 1 : 0);
