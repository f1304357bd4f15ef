/**
 * Runs what `npm run dev` runs (scripts/dev.mjs: the demo identity provider, then `wrangler dev`
 * with the gateway and the demo upstream) as a child process group on free loopback ports, with
 * its own state directory, and stops the whole process group afterwards. Extra vars shorten the
 * token's life so the tests can watch it expire in seconds.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { freePort, retryOnPortClash } from "../../support/free-port";

export const ROOT = path.resolve(import.meta.dirname, "../../..");

export interface DevServer {
  /** `http://localhost:<port>`: dev mode serves only loopback host names. */
  readonly url: string;
  /** The demo identity provider's issuer, `http://127.0.0.1:<port>`. */
  readonly idpUrl: string;
  /** The process of scripts/dev.mjs (leader of the group holding the IdP and wrangler). */
  readonly child: ChildProcess;
  readonly output: string[];
  stop(): Promise<void>;
}

export interface DevServerOptions {
  readonly vars?: Record<string, string>;
  readonly startTimeoutMs?: number;
}

function stopGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return Promise.resolve();
  const pid = child.pid;
  return new Promise((resolve) => {
    const killTimer = setTimeout(() => {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // already gone
      }
    }, 5_000);
    child.once("exit", () => {
      clearTimeout(killTimer);
      resolve();
    });
    try {
      process.kill(-pid, "SIGTERM");
    } catch {
      clearTimeout(killTimer);
      resolve();
    }
  });
}

/** Build the demo page (as `npm run dev` does first). */
export function buildDemo(): void {
  execFileSync(process.execPath, [path.join(ROOT, "examples/demo-upstream/build.mjs")], { cwd: ROOT, stdio: "pipe" });
}

/** `npm run dev` on free loopback ports, started again if a port was taken meanwhile. */
export function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  return retryOnPortClash(() => startDevServerOnce(options));
}

async function startDevServerOnce(options: DevServerOptions): Promise<DevServer> {
  const [port, inspectorPort, idpPort] = [await freePort(), await freePort(), await freePort()];
  const state = await mkdtemp(path.join(tmpdir(), "portcullis-browser-"));
  const vars = Object.entries(options.vars ?? {}).flatMap(([name, value]) => ["--var", `${name}:${value}`]);
  const child = spawn(
    process.execPath,
    [
      path.join(ROOT, "scripts/dev.mjs"),
      "--idp-port",
      String(idpPort),
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--inspector-port",
      String(inspectorPort),
      "--persist-to",
      state,
      "--show-interactive-dev-session=false",
      ...vars,
    ],
    {
      cwd: ROOT,
      detached: true, // its own process group, so stop() ends workerd too
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" },
    },
  );
  const output: string[] = [];
  // A failed spawn ends up in the output the start-up error shows, not as an uncaught error.
  child.on("error", (error) => output.push(`could not run wrangler dev: ${error.message}\n`));
  for (const stream of [child.stdout, child.stderr]) {
    stream?.setEncoding("utf8");
    stream?.on("data", (chunk: string) => output.push(chunk));
  }
  const emergencyStop = () => {
    if (child.pid !== undefined && child.exitCode === null) {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  };
  process.once("exit", emergencyStop);

  const url = `http://localhost:${port}`;
  const stop = async () => {
    process.off("exit", emergencyStop);
    await stopGroup(child);
    await rm(state, { recursive: true, force: true });
  };

  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    try {
      const response = await fetch(`${url}/demo/`, { signal: AbortSignal.timeout(2_000) });
      if (response.ok) return { url, idpUrl: `http://127.0.0.1:${idpPort}`, child, output, stop };
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  await stop();
  throw new Error(`npm run dev did not serve ${url}/demo/ in time:\n${output.join("").slice(-3000)}`);
}
