/**
 * `npm run bench:profile`: where the gateway's CPU time goes inside workerd.
 *
 * Runs the bundled Worker in miniflare with workerd's V8 inspector on, drives one
 * scenario (valid token, or transparent refresh) with autocannon, and records a V8 CPU
 * profile of the gateway's isolate. Each sample is charged to a stage of the pipeline
 * by the innermost frame of ours on its stack (verification, revocation, refresh,
 * proxying, …), falling back to the bundle module the leaf frame came from (the bundle
 * marks every module with a `// path` comment). Workerd's own native work (HTTP, the
 * KV and Durable Object simulators) does not run in the isolate and shows only in the
 * process's CPU time, which is reported beside the profile.
 *
 *   npm run bench:profile -- --scenario bare|valid|nocache|refresh --seconds 8 [--alg EdDSA|ES256|HS256] [--split] [--save out.cpuprofile]
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { SignJWT } from "jose";
import { Miniflare } from "miniflare";
import { buildWorker, READABLE_BUNDLE_DIR, ROOT } from "../test/support/build-worker";
import { AUDIENCE, type Gateway, ISSUER, startGateway } from "../test/support/gateway";
import { makeKey, TEST_SECRETS } from "../test/support/test-keys";
import { decodeClaims, mintToken } from "../test/support/tokens";
import type { TestUpstream } from "../test/support/upstream";
import { childPidsNamed, cpuMillis, installExitHooks, startNodeChild, trackPid } from "./processes";
import { startSplitStores } from "./split-stores";

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
  [/^(issueAccessToken|sign)$/, "issue access token"],
  [/^(revokedBecause|isSubjectRevoked|isTokenRevoked|revokeToken|revokeSession|#read|#write)$/, "revocation (KV)"],
  [/^(refreshTransparently|refresh|rotate|#call|#mint)$/, "refresh / session object"],
  [/^(enforceRateLimit)$/, "rate limit"],
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
export function selfTimes(profile: CpuProfile, bundle: string): Map<string, number> {
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

/**
 * Locally the session's Durable Object runs in the gateway's isolate; in production it is
 * an isolate of its own, and its CPU is not the Worker's. Samples with any of its frames
 * on the stack are charged to this stage, so the rest is the Worker's own CPU.
 */
export const SESSION_OBJECT_STAGE = "session object (its own isolate in production)";
const SESSION_OBJECT_MODULES = new Set([
  "src/sessions/session-object.ts",
  "src/sessions/session-record.ts",
  "src/sessions/successor-seal.ts",
]);

export function attribute(profile: CpuProfile, bundle: string): Map<string, number> {
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
      const frame = byId.get(id)?.callFrame;
      if (frame?.url && SESSION_OBJECT_MODULES.has(moduleAt(marks, frame.lineNumber) ?? "")) {
        stage = SESSION_OBJECT_STAGE;
      }
    }
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

async function loginSessions(gateway: Gateway, url: string, count: number) {
  const sessions: Array<Record<string, string>> = [];
  for (let index = 0; index < count; index++) {
    const response = await fetch(`${url}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "alice", password: "correct horse" }),
    });
    const body = (await response.json()) as { access_token: string };
    const refresh = response.headers
      .getSetCookie()
      .find((line) => line.startsWith("__Host-portcullis-refresh="))
      ?.split(";")[0];
    const { sub, sid, auth_time, scope, roles } = decodeClaims(body.access_token);
    const expired = await mintToken(gateway.key, {
      claims: { sub, sid, auth_time, scope, roles } as never,
      iatOffset: -3600,
      ttl: 900,
    });
    sessions.push({ authorization: `Bearer ${expired}`, cookie: refresh ?? "" });
  }
  return sessions;
}

interface ProfileRun {
  readonly scenario: string;
  readonly mf: Miniflare;
  readonly workerName: string;
  readonly workerdPid: number;
  readonly requests: autocannon.Request[];
  readonly amount: number | undefined;
  readonly seconds: number;
  readonly connections: number;
  /** Where to write the raw V8 profile (`--save`), for a closer look in DevTools. */
  readonly save: string | undefined;
}

async function profileRun(run: ProfileRun): Promise<void> {
  const { scenario, mf, workerdPid, requests, amount, seconds, connections } = run;
  const url = (await mf.unsafeGetDirectURL(run.workerName)).toString().replace(/\/$/, "");
  const inspectorBase = (await mf.getInspectorURL()).toString().replace(/^ws/, "http").replace(/\/$/, "");
  const targets = (await (await fetch(`${inspectorBase}/json/list`)).json()) as Array<{
    title?: string;
    webSocketDebuggerUrl: string;
  }>;
  const target = targets.find((item) => item.title?.includes(run.workerName)) ?? targets[0];
  if (target === undefined) throw new Error("workerd's inspector lists no worker");
  // Warm the isolate before the profile starts.
  await autocannon({
    url,
    connections,
    duration: 1,
    requests: scenario === "refresh" ? [{ path: "/health" }] : requests,
  });

  const inspector = await Inspector.connect(target.webSocketDebuggerUrl);
  await inspector.send("Profiler.enable");
  await inspector.send("Profiler.setSamplingInterval", { interval: 100 });
  await inspector.send("Profiler.start");
  const cpuBefore = cpuMillis(workerdPid);
  const result = await autocannon({
    url,
    connections,
    ...(amount === undefined ? { duration: seconds } : { amount }),
    requests,
  });
  const cpuUsed = cpuMillis(workerdPid) - cpuBefore;
  const { profile } = await inspector.send<{ profile: CpuProfile }>("Profiler.stop");
  inspector.close();
  if (run.save !== undefined) writeFileSync(run.save, JSON.stringify(profile));

  const completed = result.requests.total;
  const bundle = readFileSync(readableBundle, "utf8");
  const totals = attribute(profile, bundle);
  const leaves = [...selfTimes(profile, bundle).entries()].sort((a, b) => b[1] - a[1]).slice(0, 20);
  const busy = [...totals.entries()].filter(([stage]) => stage !== "(idle)");
  const busyMicros = busy.reduce((sum, [, micros]) => sum + micros, 0);
  const sessionObjectMicros = totals.get(SESSION_OBJECT_STAGE) ?? 0;
  const lines = [
    `scenario ${scenario}: ${completed} requests, ${(completed / result.duration).toFixed(0)} req/s, non-2xx ${result.non2xx}, errors ${result.errors}`,
    `workerd process CPU: ${((cpuUsed * 1000) / completed).toFixed(0)} µs/request (all threads: isolate + HTTP + KV/DO simulators)`,
    `gateway isolate, sampled JS + GC + runtime calls: ${(busyMicros / completed).toFixed(0)} µs/request`,
    ...(sessionObjectMicros > 0
      ? [
          `  of which the session object: ${(sessionObjectMicros / completed).toFixed(0)} µs/request; the Worker's own: ${((busyMicros - sessionObjectMicros) / completed).toFixed(0)} µs/request`,
        ]
      : []),
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
}

const readableBundle = path.join(READABLE_BUNDLE_DIR, "index.js");

async function main(): Promise<void> {
  buildWorker({ minify: false, outdir: READABLE_BUNDLE_DIR });
  const { values } = parseArgs({
    options: {
      scenario: { type: "string", default: "valid" },
      seconds: { type: "string", default: "8" },
      connections: { type: "string", default: "16" },
      alg: { type: "string", default: "EdDSA" },
      /** The session object and KV in a workerd of their own (as the bench's split refresh row). */
      split: { type: "boolean", default: false },
      /** Also write the raw profile here (a .cpuprofile, which Chrome DevTools opens). */
      save: { type: "string" },
    },
  });
  const scenario = values.scenario ?? "valid";
  const seconds = Number(values.seconds);
  const connections = Number(values.connections);
  const stops: Array<() => Promise<void>> = [];
  installExitHooks(async () => {
    for (const stop of stops.reverse()) await stop();
  });

  const upstreamChild = await startNodeChild(path.join(ROOT, "dist/bench/upstream-server.mjs"));
  stops.push(() => upstreamChild.stop());
  const upstreamUrl = upstreamChild.ready.url as string;
  const before = childPidsNamed(process.pid, "workerd");
  if (scenario === "bare") {
    const mf = new Miniflare({
      name: "bare",
      modules: true,
      scriptPath: path.join(ROOT, "bench/bare-worker.js"),
      compatibilityDate: "2026-04-01",
      bindings: { UPSTREAM_URL: upstreamUrl },
      unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
      inspectorPort: 0,
    });
    stops.push(() => mf.dispose());
    await mf.ready;
    trackPid(childPidsNamed(process.pid, "workerd").find((pid) => !before.includes(pid)) as number);
    const headers: Array<Record<string, string>> = [];
    for (let index = 0; index < 256; index++) headers.push({ authorization: `Bearer ${"x".repeat(400)}${index}` });
    await profileRun({
      scenario,
      mf,
      workerName: "bare",
      workerdPid: childPidsNamed(process.pid, "workerd").find((pid) => !before.includes(pid)) as number,
      requests: headers.map((extra) => ({ method: "GET", path: "/api/items?page=1", headers: extra })),
      amount: undefined,
      seconds,
      connections,
      save: values.save,
    });
    for (const stop of stops.splice(0).reverse()) await stop();
    process.exit(0);
  }
  // The gateway's own test key is EdDSA; ES256 and HS256 (ACCESS_SECRET) are configured here.
  const alg = values.alg ?? "EdDSA";
  const es256 = alg === "ES256" ? await makeKey("ES256", "profile-es256") : undefined;
  const algVars: Record<string, string> =
    alg === "ES256"
      ? { SIGNING_KEYS: JSON.stringify([es256?.privateJwk]) }
      : alg === "HS256"
        ? { ACCESS_SECRET: TEST_SECRETS.ACCESS_SECRET }
        : {};
  const stores = values.split ? await startSplitStores() : undefined;
  if (stores !== undefined) stops.push(() => stores.close());
  const before2 = childPidsNamed(process.pid, "workerd");
  const gateway = await startGateway({
    upstream: { url: upstreamUrl, close: async () => undefined } as unknown as TestUpstream,
    keepLogs: false,
    vars: {
      REVOCATION_CACHE_SECONDS: scenario === "nocache" ? "0" : "5",
      UPSTREAM_TIMEOUT_MS: "30000",
      ...algVars,
    },
    // The shipped bundle is minified; samples are charged to modules by the readable one's comments.
    workerOptions: {
      scriptPath: readableBundle,
      unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
      inspectorPort: 0,
      ...stores?.gatewayOptions,
    },
    ...(stores ? { sharedOptions: stores.sharedOptions } : {}),
  });
  stops.push(() => gateway.close());
  const workerdPid = childPidsNamed(process.pid, "workerd").find((pid) => !before2.includes(pid)) as number;
  trackPid(workerdPid);
  const url = (await gateway.mf.unsafeGetDirectURL("portcullis")).toString().replace(/\/$/, "");
  let requests: autocannon.Request[];
  let amount: number | undefined;
  if (scenario === "refresh") {
    const pool = await loginSessions(gateway, url, 600);
    let next = 0;
    amount = pool.length - 2 * connections;
    requests = [
      {
        method: "GET",
        path: "/api/items?page=1",
        setupRequest: (request) => ({ ...request, headers: pool[next++] ?? {} }),
      },
    ];
  } else {
    requests = [];
    for (let index = 0; index < 256; index++) {
      const claims = { sub: `user-${index}`, sid: `s${String(index).padStart(21, "0")}` };
      const token =
        alg === "HS256"
          ? await new SignJWT({ ...claims, jti: crypto.randomUUID() })
              .setProtectedHeader({ alg: "HS256" })
              .setIssuer(ISSUER)
              .setAudience(AUDIENCE)
              .setIssuedAt()
              .setExpirationTime("1h")
              .sign(new TextEncoder().encode(TEST_SECRETS.ACCESS_SECRET))
          : await mintToken(es256 ?? gateway.key, { claims, ttl: 3600 });
      requests.push({ method: "GET", path: "/api/items?page=1", headers: { authorization: `Bearer ${token}` } });
    }
  }
  await profileRun({
    scenario,
    mf: gateway.mf,
    workerName: "portcullis",
    workerdPid,
    requests,
    amount,
    seconds,
    connections,
    save: values.save,
  });
  for (const stop of stops.splice(0).reverse()) await stop();
  process.exit(0);
}

if (process.argv[1]?.endsWith("profile.mjs")) await main();
