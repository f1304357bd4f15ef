/**
 * The gateways and clients the benchmark drives: the Worker in workerd (with the
 * binding counters, and the bare pass-through and the forwarding floor beside it), the
 * upstream, the sessions and tokens the rows send, and the 100 MiB transfers.
 */
import { createHash } from "node:crypto";
import http from "node:http";
import path from "node:path";
import type autocannon from "autocannon";
import { Miniflare } from "miniflare";
import { BUNDLE, ROOT } from "../test/support/build-worker";
import { type Gateway, ISSUER, startGateway } from "../test/support/gateway";
import { type JwksServer, startJwksServer } from "../test/support/jwks-server";
import { makeKey } from "../test/support/test-keys";
import { decodeClaims, mintToken } from "../test/support/tokens";
import { TEST_USERS, type TestUpstream } from "../test/support/upstream";
import { writeBytes } from "../test/support/write-bytes";
import { countingOptions } from "./binding-counts";
import { benchScript, bundleScripts } from "./bundle-scripts";
import {
  childPidsNamed,
  memoryStatus,
  type NodeChild,
  resetPeakMemory,
  startNodeChild,
  trackPid,
  untrackPid,
} from "./processes";
import type { TransferResult } from "./results";

export const API_PATH = "/api/items?page=1";
/** The same request on a route with `revocation = "strict"` (the session object is asked). */
export const STRICT_PATH = "/strict/items?page=1";
/** A route whose rule requires five conditions (docs/policy.md), all of which a bench token meets. */
export const CONDITIONS_PATH = "/conditions/items?page=1";
export const STRICT_SESSIONS = 64;
/** Distinct tokens (subjects, sessions) the valid-token rows cycle through. */
export const TOKEN_POOL = 256;
/** The bare worker's route behind miniflare's entry worker. */
export const BARE_ROUTE_HOST = "bare.bench.test";
/** Rate limits out of the way: the benchmark measures throughput, not the limiter. */
export const UNLIMITED = { simple: { limit: 1_000_000_000, period: 60 } };
const RATE_LIMITS = ["LOGIN_IP_LIMIT", "LOGIN_ACCOUNT_LIMIT", "REFRESH_IP_LIMIT", "REFRESH_SESSION_LIMIT"];
export const BARE_SCRIPT = path.join(ROOT, "bench/bare-worker.js");
export const P256_SCRIPT = path.join(ROOT, "bench/p256-worker.js");
/** The DPoP proof check's Worker (proof-worker.js), bundled: it imports the gateway's check. */
export const PROOF_SCRIPT = benchScript("proof-worker");
/** The forwarding floor's Worker (floor-worker.js), bundled: it imports the gateway's header functions. */
export const FLOOR_SCRIPT = benchScript("floor-worker");

function randomId(): string {
  return createHash("sha256").update(crypto.randomUUID()).digest("base64url").slice(0, 22);
}

/** The bench's upstream (upstream-server.ts) in a Node process of its own; prints and serves on 127.0.0.1. */
export async function startBenchUpstream(): Promise<NodeChild> {
  await bundleScripts("node", { "upstream-server": "bench/upstream-server.ts" });
  return startNodeChild(benchScript("upstream-server"));
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

export function newWorkerdPid(before: readonly number[]): number {
  const pid = childPidsNamed(process.pid, "workerd").find((candidate) => !before.includes(candidate));
  if (pid === undefined) throw new Error("could not find the workerd process miniflare started");
  trackPid(pid);
  return pid;
}

export interface RunningGateway {
  readonly gateway: Gateway;
  readonly workerdPid: number;
  readonly directUrl: string;
  readonly bareUrl: string | undefined;
  readonly floorUrl: string | undefined;
  /** The pass-through plus one ECDSA P-256 verification (p256-worker.js). */
  readonly p256Url: string | undefined;
  /** The pass-through plus the gateway's DPoP proof check (proof-worker.js). */
  readonly proofUrl: string | undefined;
  readonly entryUrl: string;
}

export interface BenchGatewayOptions {
  /** REVOCATION_CACHE_SECONDS: production's 5 by default; "0" for the row without the cache. */
  readonly revocationCacheSeconds?: string;
  /** More vars, over the bench's (e.g. `ROTATION_RECORD`). */
  readonly vars?: Record<string, string>;
  /** Also the bare pass-through and the forwarding floor in the same workerd (the shared rows). */
  readonly withBare?: boolean;
  /** The session objects, the ledger and KV in another workerd (split-stores.ts); their calls are not counted. */
  readonly stores?: { gatewayOptions: Record<string, unknown>; sharedOptions: Record<string, unknown> };
  /** Another build of the Worker (`--builds`, bench:cost's before); the working tree's by default. */
  readonly bundle?: string;
  /** workerd's V8 inspector on (bench:profile). */
  readonly inspector?: boolean;
}

/**
 * The Worker in workerd with the production values of the settings the test harness
 * shortens, its rate limits out of the way, and every KV and Durable Object operation
 * counted (bench/binding-counts.ts), reached through a direct socket.
 */
export async function startBenchGateway(upstreamUrl: string, options: BenchGatewayOptions = {}) {
  const { withBare = false, stores, bundle = BUNDLE } = options;
  const before = childPidsNamed(process.pid, "workerd");
  const direct = [{ host: "127.0.0.1", port: 0 }];
  const counting = countingOptions(bundle);
  const gateway = await startGateway({
    upstream: asTestUpstream(upstreamUrl),
    keepLogs: process.env.BENCH_LOGS === "1",
    vars: {
      REVOCATION_CACHE_SECONDS: options.revocationCacheSeconds ?? "5",
      UPSTREAM_TIMEOUT_MS: "30000",
      // The rows log thousands of sessions in as two users: the default cap (100 a user)
      // would end most of them. Unlimited, as every figure before the cap was measured.
      MAX_SESSIONS_PER_USER: "0",
      ROUTES: JSON.stringify([
        { path: "/health", public: true },
        { path: "/strict/*", revocation: "strict" },
        {
          path: "/conditions/*",
          require: {
            all: [
              { claim: "sub", exists: true },
              { claim: "scope", any_of: ["read write", "admin"] },
              { claim: "iss", equals: ISSUER },
              { ip: ["127.0.0.0/8", "::1"] },
              { not: { country: ["KP"] } },
            ],
          },
        },
      ]),
      ...options.vars,
    },
    workerOptions: {
      ...counting.workerOptions,
      scriptPath: bundle,
      unsafeDirectSockets: direct,
      ratelimits: Object.fromEntries(RATE_LIMITS.map((name) => [name, UNLIMITED])),
      ...stores?.gatewayOptions,
    },
    sharedOptions: { ...stores?.sharedOptions, ...(options.inspector ? { inspectorPort: 0 } : {}) },
    extraWorkers: [
      ...(withBare
        ? [
            {
              name: "bare",
              modules: true,
              scriptPath: BARE_SCRIPT,
              compatibilityDate: "2026-04-01",
              bindings: { UPSTREAM_URL: upstreamUrl },
              routes: [`${BARE_ROUTE_HOST}/*`],
              unsafeDirectSockets: direct,
            },
            {
              // The pass-through plus one ECDSA P-256 verification: the DPoP row's yardstick.
              name: "p256",
              modules: true,
              scriptPath: P256_SCRIPT,
              compatibilityDate: "2026-04-01",
              bindings: { UPSTREAM_URL: upstreamUrl },
              unsafeDirectSockets: direct,
            },
            {
              // The pass-through plus the gateway's DPoP proof check: the check on its own.
              name: "proof",
              modules: true,
              scriptPath: PROOF_SCRIPT,
              compatibilityDate: "2026-04-01",
              bindings: { UPSTREAM_URL: upstreamUrl },
              unsafeDirectSockets: direct,
            },
            {
              // The forwarding the gateway's contract requires, without token work (floor-worker.js).
              name: "floor",
              modules: true,
              scriptPath: FLOOR_SCRIPT,
              compatibilityDate: "2026-04-01",
              bindings: { UPSTREAM_URL: upstreamUrl },
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
    floorUrl: withBare ? strip(await gateway.mf.unsafeGetDirectURL("floor")) : undefined,
    p256Url: withBare ? strip(await gateway.mf.unsafeGetDirectURL("p256")) : undefined,
    proofUrl: withBare ? strip(await gateway.mf.unsafeGetDirectURL("proof")) : undefined,
    entryUrl: gateway.url,
  } satisfies RunningGateway;
}

export interface Session {
  /** The session's access token, valid for the whole run (LIVE_TOKEN_SECONDS). */
  readonly accessToken: string;
  readonly expiredAccessToken: string;
  readonly refreshToken: string;
}

/**
 * How many sessions a refresh row needs. Each of its phases (the warm-up and every round)
 * can strand up to `connections` of them: a request still in flight when the load stops is
 * dropped with its answer, and with it the rotated refresh cookie. Plus `connections` in use.
 */
export function refreshSessionCount(connections: number, rounds: number): number {
  return Math.max(8 * connections, connections * (rounds + 4));
}

/** How long the access tokens of `createSessions` stay valid: longer than any bench run. */
const LIVE_TOKEN_SECONDS = 6 * 3600;

/** Log in `count` times through POST /auth/login; each session gets an expired access token and a live one. */
export async function createSessions(
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
      const login = () =>
        fetch(`${running.directUrl}/auth/login`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ username, password: user.password }),
        });
      let response = await login();
      // The credential check goes to the upstream; a pooled connection that the upstream
      // closed at that moment answers 503, and a client tries again.
      for (let retry = 0; retry < 3 && response.status === 503; retry++) {
        await response.arrayBuffer();
        response = await login();
      }
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
      // And one that outlives the run: a login's lives 15 minutes, and a run with many
      // rounds lasts longer (the strict row presents these, with no refresh cookie).
      const accessToken = await mintToken(running.gateway.key, {
        claims: { sub, sid, auth_time, scope, roles } as never,
        ttl: LIVE_TOKEN_SECONDS,
      });
      sessions.push({ accessToken, expiredAccessToken, refreshToken });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return sessions;
}

/** Valid access tokens of distinct subjects and sessions, as many users would send them. */
export async function validTokenHeaders(gateway: Gateway, count = TOKEN_POOL): Promise<Array<Record<string, string>>> {
  const headers: Array<Record<string, string>> = [];
  for (let index = 0; index < count; index++) {
    const token = await mintToken(gateway.key, { claims: { sub: `user-${index}`, sid: randomId() }, ttl: 3600 });
    headers.push({ authorization: `Bearer ${token}` });
  }
  return headers;
}

export function staticRequests(headers: Array<Record<string, string>>): autocannon.Request[] {
  return headers.map((extra) => ({ method: "GET", path: API_PATH, headers: extra }));
}

export const REFRESH_COOKIE_PREFIX = "__Host-portcullis-refresh=";

/**
 * Every request is a transparent refresh: the session's expired access token and its
 * current refresh cookie. Each answer rotates the cookie, and the session goes back into
 * the pool with the new one, as a client that refreshes every access-token lifetime
 * would; no refresh token is ever presented twice. A session whose answer carries no
 * rotated cookie (an error, counted by the row), or whose request was still in flight
 * when a phase ended, leaves the pool. `ready` is shared by the warm-up and the measured
 * phase and holds several sessions per connection, so a request always finds one.
 */
export function sessionRequests(ready: Session[]): autocannon.Request[] {
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

/** Stream `bytes` through the gateway one way and watch workerd's peak RSS. */
export async function transfer(
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

/** What a row is served by: a URL, the process to meter, and how to stop it. */
export interface ServedRow {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/** A gateway in a workerd of its own, as a row serves it. */
export function servedBy(running: RunningGateway): ServedRow {
  return {
    url: running.directUrl,
    pid: running.workerdPid,
    stop: async () => {
      await running.gateway.close();
      untrackPid(running.workerdPid);
    },
  };
}

/** A Worker script alone in a workerd, reached through a direct socket. */
export async function startLoneWorker(scriptPath: string, bindings: Record<string, string>): Promise<ServedRow> {
  const before = childPidsNamed(process.pid, "workerd");
  const alone = new Miniflare({
    modules: true,
    scriptPath,
    compatibilityDate: "2026-04-01",
    bindings,
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
}

/** The verify-only rows' route: it accepts the gateway's own tokens and both trusted issuers' (TRUSTED_ISSUERS). */
export const ISSUERS_PATH = "/ci/items?page=1";
/**
 * Distinct tokens each verify-only row cycles through: more than the verification cache
 * holds (MAX_VERIFIED_TOKENS, 4,096, oldest first out), so every request is verified afresh.
 */
export const FRESH_TOKENS = 6_000;

export interface IssuersGateway {
  readonly running: RunningGateway;
  /** Tokens of the one issuer of today's setup: iss TOKEN_ISSUER, keys from JWKS_URL. */
  readonly single: string[];
  /** Tokens of the two trusted issuers, alternating. */
  readonly trusted: string[];
  stop(): Promise<void>;
}

/**
 * A gateway that verifies tokens of three issuers, each ES256 with its own JWKS on
 * 127.0.0.1: TOKEN_ISSUER's through JWKS_URL (today's single external issuer), and two of
 * TRUSTED_ISSUERS (http key sets: development mode). Both verify-only rows run here, on one
 * route, so they differ only in whose token it is: what choosing among issuers costs.
 */
export async function startIssuersGateway(upstreamUrl: string, count = FRESH_TOKENS): Promise<IssuersGateway> {
  const [single, first, second] = await Promise.all([
    makeKey("ES256", "single-1"),
    makeKey("ES256", "ci-a-1"),
    makeKey("ES256", "ci-b-1"),
  ]);
  const servers = await Promise.all([single, first, second].map((key) => startJwksServer([key.publicJwk])));
  const [singleKeys, firstKeys, secondKeys] = servers as [JwksServer, JwksServer, JwksServer];
  const issuer = (id: string, url: string) => ({
    id,
    issuer: `https://${id}.bench.test`,
    jwks_url: url,
    audience: "bench-api",
    algorithms: ["ES256"],
  });
  const running = await startBenchGateway(upstreamUrl, {
    vars: {
      PORTCULLIS_ENV: "development",
      JWKS_URL: singleKeys.url,
      TRUSTED_ISSUERS: JSON.stringify([issuer("ci-a", firstKeys.url), issuer("ci-b", secondKeys.url)]),
      ROUTES: JSON.stringify([
        { path: "/health", public: true },
        { path: "/ci/*", issuers: ["self", "ci-a", "ci-b"] },
      ]),
    },
  });
  const now = Math.floor(Date.now() / 1000);
  const claims = (index: number) => ({ sub: `job-${index}`, sid: undefined, iat: now, exp: now + 6 * 3600 });
  const singleTokens: string[] = [];
  const trustedTokens: string[] = [];
  for (let index = 0; index < count; index++) {
    singleTokens.push(await mintToken(single, { claims: claims(index), header: { typ: "JWT" } }));
    const key = index % 2 === 0 ? first : second;
    const id = index % 2 === 0 ? "ci-a" : "ci-b";
    trustedTokens.push(
      await mintToken(key, {
        claims: { ...claims(index), iss: `https://${id}.bench.test`, aud: "bench-api" },
        header: { typ: "JWT" },
      }),
    );
  }
  return {
    running,
    single: singleTokens,
    trusted: trustedTokens,
    stop: async () => {
      await servedBy(running).stop();
      await Promise.all(servers.map((server) => server.close()));
    },
  };
}

/**
 * One request whose token is the next of `tokens`, shared by every connection, so no token
 * comes back before the whole list has gone round (autocannon starts each connection at
 * the first of a static list).
 */
export function rotatingRequests(tokens: readonly string[], path = ISSUERS_PATH): autocannon.Request[] {
  let next = 0;
  return [
    {
      method: "GET",
      path,
      setupRequest: (request) => {
        const token = tokens[next] as string;
        next = (next + 1) % tokens.length;
        return { ...request, headers: { authorization: `Bearer ${token}` } };
      },
    },
  ];
}
