/**
 * Child processes of the benchmark and what /proc says about them: CPU time and peak
 * resident memory. Everything started here is killed on exit, on SIGINT and on SIGTERM,
 * so a run never leaves a server behind.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";

/** Linux USER_HZ: the unit of utime/stime in /proc/<pid>/stat (100 on every mainstream architecture). */
const CLOCK_TICKS_PER_SECOND = 100;

const children = new Set<ChildProcess>();
const extraPids = new Set<number>();
/** What undoes each thing a run started, in the order they were started. */
const cleanups: Array<() => Promise<void>> = [];
let hooksInstalled = false;

function killAll(): void {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  for (const pid of extraPids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

/**
 * Undo `step` when the run ends: at `cleanUp()`, or on SIGINT/SIGTERM (bounded, then every
 * child is killed). Children are killed on exit whatever happened.
 */
export function atCleanUp(step: () => Promise<void>): void {
  cleanups.push(step);
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on("exit", killAll);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      const timer = setTimeout(() => process.exit(130), 3000);
      timer.unref();
      void cleanUp().finally(() => {
        killAll();
        process.exit(130);
      });
    });
  }
}

/** Runs every step `atCleanUp` was given, last first; a step that fails does not stop the others. */
export async function cleanUp(): Promise<void> {
  for (const step of cleanups.splice(0).reverse()) await step().catch(() => undefined);
}

/** Also kill this pid (a grandchild such as workerd) if the run ends abnormally. */
export function trackPid(pid: number): void {
  extraPids.add(pid);
}

export function untrackPid(pid: number): void {
  extraPids.delete(pid);
}

export interface NodeChild {
  readonly process: ChildProcess;
  readonly pid: number;
  /** The first line the child printed, parsed as JSON (its address). */
  readonly ready: Record<string, unknown>;
  stop(): Promise<void>;
}

/** Start `node script` and wait for the JSON line it prints when it listens. */
export async function startNodeChild(script: string, env: Record<string, string> = {}): Promise<NodeChild> {
  // --no-deprecation: http-proxy's util._extend warning would only clutter the output.
  const child = spawn(process.execPath, ["--no-deprecation", script], {
    env: { ...process.env, ...env },
    stdio: ["pipe", "pipe", "inherit"],
  });
  children.add(child);
  // stdin only tells the child when its parent is gone; a child that left first is `exit`'s news.
  child.stdin?.on("error", () => {});
  child.once("exit", () => children.delete(child));
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start within 15 s`)), 15_000);
    lines.once("line", (line) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(line) as Record<string, unknown>);
      } catch (error) {
        reject(error);
      }
    });
    child.once("exit", (code) => reject(new Error(`${script} exited with ${code} before it was ready`)));
    child.once("error", (error) => reject(new Error(`${script} could not start: ${error.message}`)));
  });
  child.stdout?.resume();
  return {
    process: child,
    pid: child.pid as number,
    ready,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const timer = setTimeout(() => child.kill("SIGKILL"), 2000);
        child.once("exit", () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill("SIGTERM");
      }),
  };
}

/** The pids of the direct children of `pid` whose command name is `name`. */
export function childPidsNamed(pid: number, name: string): number[] {
  let listed: string;
  try {
    listed = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8");
  } catch {
    return [];
  }
  return listed
    .trim()
    .split(/\s+/)
    .filter((item) => item !== "")
    .map(Number)
    .filter((child) => {
      try {
        return readFileSync(`/proc/${child}/comm`, "utf8").trim() === name;
      } catch {
        return false;
      }
    });
}

/** User + system CPU time of a process so far, in milliseconds (all its threads). */
export function cpuMillis(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces) start at field 3.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1000) / CLOCK_TICKS_PER_SECOND;
}

export interface MemoryStatus {
  /** Resident set size now, bytes. */
  readonly rss: number;
  /** Peak resident set size since start or since the last `resetPeakMemory`, bytes. */
  readonly peak: number;
}

export function memoryStatus(pid: number): MemoryStatus {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN);
  return { rss: kib("VmRSS") * 1024, peak: kib("VmHWM") * 1024 };
}

/** Reset VmHWM to the current RSS (Linux: `echo 5 > /proc/<pid>/clear_refs`). False when not allowed. */
export function resetPeakMemory(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/** CPU and peak memory of one process over an interval. */
export class ProcessMeter {
  readonly #pid: number;
  #cpuStart = 0;

  constructor(pid: number) {
    this.#pid = pid;
  }

  start(): void {
    resetPeakMemory(this.#pid);
    this.#cpuStart = cpuMillis(this.#pid);
  }

  stop(): { cpuMillis: number; peakBytes: number; rssBytes: number } {
    const cpu = cpuMillis(this.#pid) - this.#cpuStart;
    const memory = memoryStatus(this.#pid);
    return { cpuMillis: cpu, peakBytes: memory.peak, rssBytes: memory.rss };
  }
}

/**
 * Pin a process and all its threads to one CPU (`taskset`, Linux). The benchmark keeps
 * the server under test on a CPU of its own and everything else (load generator,
 * upstream) on the others, so the server's CPU time per request is not inflated by
 * sharing a core with the load that drives it. Returns false where pinning is not possible.
 */
export function pinToCpus(pid: number, cpus: string): boolean {
  try {
    execFileSync("taskset", ["-a", "-p", "-c", cpus, String(pid)], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
