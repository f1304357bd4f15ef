/**
 * Ending many sessions of one subject in the background ("sign out everywhere else",
 * an operator's revoke-subject, logins beyond MAX_SESSIONS_PER_USER), within the
 * platform's subrequest limits: each session is one call to its object, and a Worker
 * request or a Durable Object invocation may make only so many (50 on the Workers Free
 * plan; docs/cost.md cites the page). So the request that asks for it only writes the
 * work down in the subject's index object (subject-sessions.ts), and that object's alarm
 * ends the sessions CLEANUP_BATCH_SIZE at a time, re-arming until none is left.
 *
 * The work lives in storage (one `e:<sid>` key per session still to end), so it survives
 * restarts and a repeated alarm: ending an ended session again changes nothing. A call
 * that fails leaves its key; the batch after it backs off, and the walk goes round the
 * keys so that one session that keeps failing never holds up the others.
 *
 * While this runs, the subject's revocation (one `sub` entry) already refuses every
 * token of these sessions: the clean-up only makes their objects refuse refreshes for
 * good, so the entry can stop mattering (docs/storage.md, "How long a `sub` entry lives").
 */
import { log } from "../log/logger";

/**
 * What the clean-up asks of a session's object (SessionObject.revoke), named here so the
 * subject's index does not import the class of the object that imports it.
 */
export interface EndableSession extends Rpc.DurableObjectBranded {
  revoke(input: { reason: string; now: number; fromIndex: true }): Promise<{ readonly revoked: boolean }>;
}

/** Sessions ended per alarm invocation: half the Free plan's 50 subrequests, one call each, no retries inside. */
export const CLEANUP_BATCH_SIZE = 25;
/** Storage key prefix of a session still to end; its value is the reason. */
export const END_PREFIX = "e:";
/** The slowest a clean-up may take before it counts as overdue: this, plus a second per batch. */
const CLEANUP_GRACE_SECONDS = 3_600;
/** Backoff after a batch with failures: 1 s, doubling, at most a minute. */
const RETRY_BASE_MS = 1_000;
const RETRY_MAX_MS = 60_000;

/**
 * How long ending `sessions` sessions may take, at the most, in seconds: an hour of
 * retries for a platform hiccup, plus one second per batch (an alarm takes far less).
 * The subject's revocation outlives this (subject-session-list.ts).
 */
export function cleanupBoundSeconds(sessions: number): number {
  return CLEANUP_GRACE_SECONDS + Math.ceil(sessions / CLEANUP_BATCH_SIZE);
}

/** A clean-up under way, as stored with the index (`meta.cleanup`). */
export interface CleanupRun {
  readonly startedAt: number;
  /** Past this (ms), it is overdue: logged at error level once. */
  readonly deadline: number;
  /** Sessions handed to this run, and how many of them are still to end. */
  readonly sessions: number;
  readonly pending: number;
  /** Alarm invocations that made calls, the calls, and the most calls one invocation made. */
  readonly alarms: number;
  readonly calls: number;
  readonly maxCallsPerAlarm: number;
  /** Batches in a row that had a failure (the backoff), and when the next batch is due. */
  readonly failures: number;
  readonly nextAt: number;
  /** The last key a batch took: the next one starts after it. */
  readonly lastKey?: string;
  readonly overdueLogged?: boolean;
}

/** The run after `added` more sessions were handed to it (a new run when there was none). */
export function extendRun(run: CleanupRun | undefined, added: number, now: number): CleanupRun {
  const pending = (run?.pending ?? 0) + added;
  const deadline = now + cleanupBoundSeconds(pending) * 1000;
  if (run === undefined) {
    return {
      startedAt: now,
      deadline,
      sessions: added,
      pending,
      alarms: 0,
      calls: 0,
      maxCallsPerAlarm: 0,
      failures: 0,
      nextAt: now,
    };
  }
  return { ...run, sessions: run.sessions + added, pending, deadline: Math.max(run.deadline, deadline) };
}

export interface BatchOutcome {
  /** The run afterwards: its counts so far, and when its next batch is due. */
  readonly run: CleanupRun;
  /** The keys of the sessions this batch ended (to delete with the run's new state). */
  readonly ended: string[];
  /** No session is left to end: the run is over (and logged as `session_cleanup_done`). */
  readonly done: boolean;
}

/** One alarm's share: end up to CLEANUP_BATCH_SIZE sessions, one call each. */
export async function endBatch(
  storage: DurableObjectStorage,
  sessions: DurableObjectNamespace<EndableSession> | undefined,
  run: CleanupRun,
  context: { readonly now: number; readonly sub?: string },
): Promise<BatchOutcome> {
  const { now, sub } = context;
  let batch = await storage.list<string>({
    prefix: END_PREFIX,
    limit: CLEANUP_BATCH_SIZE,
    ...(run.lastKey !== undefined ? { startAfter: run.lastKey } : {}),
  });
  if (batch.size === 0 && run.lastKey !== undefined) {
    batch = await storage.list<string>({ prefix: END_PREFIX, limit: CLEANUP_BATCH_SIZE });
  }
  if (batch.size === 0) return finished(run, [], now, sub);
  if (sessions === undefined) {
    // The Worker that wrote the work has the binding; an object without it is misdeployed.
    log.error("session_cleanup_stalled", { sub, pending: run.pending, reason: "SESSIONS binding missing" });
    return { run: { ...run, failures: run.failures + 1, nextAt: now + RETRY_MAX_MS }, ended: [], done: false };
  }
  const keys = [...batch.keys()];
  const results = await Promise.allSettled(
    [...batch].map(([key, reason]) =>
      sessions.get(sessions.idFromName(key.slice(END_PREFIX.length))).revoke({ reason, now, fromIndex: true }),
    ),
  );
  const ended = keys.filter((_, index) => results[index]?.status === "fulfilled");
  const failed = keys.length - ended.length;
  if (failed > 0) {
    const reason = results.find((result) => result.status === "rejected")?.reason as Error | undefined;
    log.warn("session_cleanup_retry", { sub, failed, reason: reason?.message });
  }
  const failures = failed > 0 ? run.failures + 1 : 0;
  let next: CleanupRun = {
    ...run,
    pending: Math.max(0, run.pending - ended.length),
    alarms: run.alarms + 1,
    calls: run.calls + keys.length,
    maxCallsPerAlarm: Math.max(run.maxCallsPerAlarm, keys.length),
    failures,
    nextAt: failures === 0 ? now : now + Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** (failures - 1)),
    lastKey: keys.at(-1),
  };
  if (next.pending === 0) {
    // Done, unless the count drifted (a write lost to a restart): the keys are what counts.
    const left = await storage.list({ prefix: END_PREFIX, limit: ended.length + 1 });
    if ([...left.keys()].every((key) => ended.includes(key))) return finished(next, ended, now, sub);
    next = { ...next, pending: 1 };
  }
  if (now > next.deadline && next.overdueLogged !== true) {
    // The subject's revocation outlives the deadline by the access-token lifetime only.
    log.error("session_cleanup_overdue", { sub, pending: next.pending, since: new Date(run.startedAt).toISOString() });
    next = { ...next, overdueLogged: true };
  }
  return { run: next, ended, done: false };
}

/**
 * A batch's outcome, counting in the sessions handed to the run while its calls were out
 * (`current` is the run as stored now, `before` as the batch began): then it is not done.
 */
export function withHandedOver(
  outcome: BatchOutcome,
  before: CleanupRun,
  current: CleanupRun,
): { run: CleanupRun; done: boolean } {
  const added = current.sessions - before.sessions;
  if (added === 0) return { run: outcome.run, done: outcome.done };
  const run = outcome.run;
  const deadline = Math.max(run.deadline, current.deadline);
  return { run: { ...run, sessions: run.sessions + added, pending: run.pending + added, deadline }, done: false };
}

/** The line an operator sees when a clean-up is over. */
function finished(run: CleanupRun, ended: string[], now: number, sub: string | undefined): BatchOutcome {
  log.info("session_cleanup_done", {
    sub,
    sessions: run.sessions,
    alarms: run.alarms,
    calls: run.calls,
    maxCallsPerAlarm: run.maxCallsPerAlarm,
    ms: now - run.startedAt,
  });
  return { run, ended, done: true };
}
