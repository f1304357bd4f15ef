/**
 * One Durable Object per subject (binding SUBJECT_SESSIONS): the index of that user's
 * live sessions, so "where am I signed in" and "sign out the others" are exact. It is
 * strongly consistent and single-threaded, unlike KV, so a session that just began or
 * ended is listed (or gone) at the very next read, from anywhere.
 *
 * Per session (docs/storage.md): times, expiry, login method, coarse device; never an
 * address or a token. The session's own object stays the authority on whether it is
 * alive; this lists them, and hands the ones to end to its background clean-up
 * (session-cleanup.ts): "end all but this one" is one call, not one per session.
 *
 * An entry stays until the session's absolute expiry, also once its idle timeout seems
 * past (reads hide it then): "last used" here lags the session's own, and an entry dropped
 * early would be a live session a mass logout misses. An alarm prunes expired entries,
 * so an index of a user who never comes back empties itself.
 */
import { DurableObject } from "cloudflare:workers";
import {
  type CleanupRun,
  END_PREFIX,
  type EndableSession,
  endBatch,
  extendRun,
  withHandedOver,
} from "./session-cleanup";
import { cutPage, type PagePosition, type SessionPage } from "./session-page";
import {
  type CleanupStatus,
  type EndAllInput,
  type EndAllResult,
  endOf,
  type SessionEntry,
} from "./subject-session-entry";

const PREFIX = "s:";
const META = "meta";
/**
 * How long after "end all" a session whose login was under way (begun before it, listed
 * after it) is still caught and ended: far longer than a login takes.
 */
const CUTOFF_KEPT_MS = 5 * 60_000;
/** The storage API takes at most 128 keys in one put or delete. */
const KEYS_PER_CALL = 128;
/**
 * Sessions of a mass ending that the request ends itself too (the most recently used),
 * so that on `revocation = "strict"` routes they are refused at the next request
 * everywhere, as a single ending is; the rest are, once the clean-up reaches them.
 */
const ENDED_IN_REQUEST = 10;

/** What this object reads from its env: the sessions' objects, to end them. */
type ObjectEnv = { readonly SESSIONS?: DurableObjectNamespace<EndableSession> };

/** A mass ending: sessions that began at or before `at` (ms), but `keep`. */
interface Cutoff {
  readonly at: number;
  readonly keep?: string;
  readonly reason: string;
  readonly until: number;
}

interface IndexMeta {
  /** Since when (ms) every session of the subject went through this index (docs/storage.md). */
  readonly exactSince: number;
  /** The subject, once known (for log lines). */
  readonly sub?: string;
  readonly cutoff?: Cutoff;
  readonly cleanup?: CleanupRun;
  /** The last clean-up that finished, for cleanupStatus(). */
  readonly lastCleanup?: CleanupRun;
}

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let index = 0; index < items.length; index += KEYS_PER_CALL) out.push(items.slice(index, index + KEYS_PER_CALL));
  return out;
}

export class SubjectSessions extends DurableObject {
  #entries: Map<string, SessionEntry> | undefined;
  #meta: IndexMeta = { exactSince: Number.POSITIVE_INFINITY };
  #metaStored = false;
  /** No entry expires before this (ms): until then, nothing needs pruning. */
  #nothingEndsBefore = Number.POSITIVE_INFINITY;
  /** The alarm as last set by this instance (undefined: not known). */
  #alarmAt: number | undefined;

  async #load(): Promise<Map<string, SessionEntry>> {
    if (this.#entries === undefined) {
      const [stored, meta] = await Promise.all([
        this.ctx.storage.list<SessionEntry>({ prefix: PREFIX }),
        this.ctx.storage.get<IndexMeta>(META),
      ]);
      this.#entries = new Map([...stored.values()].map((entry) => [entry.sid, entry]));
      // An index written before it kept entries to their absolute expiry is exact from now on.
      this.#meta = meta ?? { exactSince: Date.now() };
      this.#metaStored = meta !== undefined;
      this.#nothingEndsBefore = Number.NEGATIVE_INFINITY; // unknown: the first prune scans
    }
    return this.#entries;
  }

  /** Drop entries past their absolute expiry. Cheap when none can be, so logins stay O(1). */
  async #prune(entries: Map<string, SessionEntry>, now: number): Promise<void> {
    if (now < this.#nothingEndsBefore) return;
    const expired = [...entries.values()].filter((entry) => entry.expiresAt <= now).map((entry) => entry.sid);
    for (const sid of expired) entries.delete(sid);
    await Promise.all(chunks(expired).map((sids) => this.ctx.storage.delete(sids.map((sid) => PREFIX + sid))));
    let next = Number.POSITIVE_INFINITY;
    for (const entry of entries.values()) next = Math.min(next, entry.expiresAt);
    this.#nothingEndsBefore = next;
  }

  /** One alarm for everything: the next expiry, the next clean-up batch, the cutoff's end. */
  async #schedule(): Promise<void> {
    const { cleanup, cutoff } = this.#meta;
    const next = Math.min(
      this.#nothingEndsBefore,
      cleanup?.nextAt ?? Number.POSITIVE_INFINITY,
      cutoff?.until ?? Number.POSITIVE_INFINITY,
    );
    if (next === this.#alarmAt) return;
    if (Number.isFinite(next)) await this.ctx.storage.setAlarm(next);
    else await this.ctx.storage.deleteAlarm();
    this.#alarmAt = next;
  }

  // Memory changes before the write is awaited, as everywhere in this object: a call that
  // arrives meanwhile must see it, and a failed write resets the object anyway.
  async #putMeta(meta: IndexMeta): Promise<void> {
    this.#meta = meta;
    this.#metaStored = true;
    await this.ctx.storage.put(META, meta);
  }

  /**
   * Take sessions out of the list and hand them to the clean-up, in one write with the
   * index's new state (`change`): once this resolves, they will be ended, restarts or not.
   */
  async #endLater(sids: readonly string[], reason: string, change: Partial<IndexMeta> = {}) {
    const meta: IndexMeta = {
      ...this.#meta,
      ...change,
      // Scheduled by this object's clock, as its alarms are.
      ...(sids.length > 0 ? { cleanup: extendRun(this.#meta.cleanup, sids.length, Date.now()) } : {}),
    };
    for (const sid of sids) this.#entries?.delete(sid);
    this.#meta = meta;
    this.#metaStored = true;
    // No await between the writes: the storage commits them together.
    const writes: Promise<unknown>[] = [this.ctx.storage.put(META, meta)];
    for (const chunk of chunks(sids)) {
      writes.push(this.ctx.storage.put(Object.fromEntries(chunk.map((sid) => [END_PREFIX + sid, reason]))));
      writes.push(this.ctx.storage.delete(chunk.map((sid) => PREFIX + sid)));
    }
    await Promise.all(writes);
  }

  /** Did a mass ending come while this session's login was under way (it began before, to the ms)? */
  #caughtByCutoff(entry: SessionEntry, now: number): Cutoff | undefined {
    const cutoff = this.#meta.cutoff;
    if (cutoff === undefined || now >= cutoff.until || entry.sid === cutoff.keep) return undefined;
    return entry.createdAt <= cutoff.at ? cutoff : undefined;
  }

  /**
   * List a new session. With `max` > 0, the oldest sessions beyond it are taken out of
   * the index and ended in the background; they are returned, so the caller can refuse
   * their access tokens at once. A session that began before a mass ending that came
   * while its login was under way is ended the same way, and returned.
   */
  async add(input: { entry: SessionEntry; max: number; now: number }): Promise<string[]> {
    const entries = await this.#load();
    await this.#prune(entries, input.now);
    const { entry, max, now } = input;
    const caught = this.#caughtByCutoff(entry, now);
    if (caught !== undefined) {
      await this.#endLater([entry.sid], caught.reason);
      await this.#schedule();
      return [entry.sid];
    }
    entries.set(entry.sid, entry);
    await this.ctx.storage.put(PREFIX + entry.sid, entry);
    this.#nothingEndsBefore = Math.min(this.#nothingEndsBefore, entry.expiresAt);
    const beyond = max > 0 ? entries.size - max : 0;
    const oldest =
      beyond > 0
        ? [...entries.values()]
            .filter((listed) => listed.sid !== entry.sid)
            .sort((a, b) => a.createdAt - b.createdAt)
            .slice(0, beyond)
            .map((listed) => listed.sid)
        : [];
    if (oldest.length > 0) await this.#endLater(oldest, "session_cap");
    else if (!this.#metaStored) await this.#putMeta(this.#meta);
    await this.#schedule();
    return oldest;
  }

  /** A session was used (its refresh token rotated): it ends later now, never earlier. */
  async touch(input: { sid: string; now: number }): Promise<void> {
    const entries = await this.#load();
    const entry = entries.get(input.sid);
    if (entry === undefined || input.now <= entry.lastUsedAt) return;
    const touched = { ...entry, lastUsedAt: input.now };
    entries.set(input.sid, touched);
    await this.ctx.storage.put(PREFIX + input.sid, touched);
  }

  /** A session ended: it leaves the index. */
  async remove(input: { sid: string }): Promise<void> {
    const entries = await this.#load();
    if (!entries.delete(input.sid)) return;
    await this.ctx.storage.delete(PREFIX + input.sid);
  }

  /** A page of the live sessions, newest first (session-page.ts). */
  async page(input: { now: number; limit: number; after?: PagePosition }): Promise<SessionPage> {
    const entries = await this.#load();
    await this.#prune(entries, input.now);
    await this.#schedule();
    const live = [...entries.values()].filter((entry) => endOf(entry) > input.now);
    return cutPage(live, input.limit, input.after);
  }

  /** Is `sid` one of the subject's live sessions? */
  async holds(input: { sid: string; now: number }): Promise<boolean> {
    const entry = (await this.#load()).get(input.sid);
    return entry !== undefined && endOf(entry) > input.now;
  }

  /**
   * End every session but `keep`: they leave the list at once (the next read is exact)
   * and their objects are ended in the background, by the alarm, a batch at a time.
   */
  async endAll(input: EndAllInput): Promise<EndAllResult> {
    const entries = await this.#load();
    await this.#prune(entries, input.now);
    const ending = [...entries.values()].filter((entry) => entry.sid !== input.keep);
    const endNow = ending
      .sort((a, b) => b.lastUsedAt - a.lastUsedAt)
      .slice(0, ENDED_IN_REQUEST)
      .map((entry) => entry.sid);
    const cutoff: Cutoff = {
      at: input.now,
      reason: input.reason,
      until: input.now + CUTOFF_KEPT_MS,
      ...(input.keep !== undefined ? { keep: input.keep } : {}),
    };
    await this.#endLater(
      ending.map((entry) => entry.sid),
      input.reason,
      { cutoff, sub: input.sub },
    );
    await this.#schedule();
    const { exactSince, cleanup } = this.#meta;
    // An overdue clean-up may not finish within a short revocation's life: vouch for nothing.
    const overdue = cleanup !== undefined && Date.now() > cleanup.deadline;
    return {
      ended: ending.length,
      pending: cleanup?.pending ?? 0,
      exact: exactSince + input.refreshTtlSeconds * 1000 <= input.now && !overdue,
      endNow,
    };
  }

  /** Where the background clean-up stands (operations and tests). */
  async cleanupStatus(): Promise<CleanupStatus> {
    await this.#load();
    const { cleanup, lastCleanup } = this.#meta;
    return {
      pending: cleanup?.pending ?? 0,
      ...(cleanup ? { running: cleanup } : {}),
      ...(lastCleanup ? { last: lastCleanup } : {}),
    };
  }

  /** One batch of the clean-up; calls and storage for one alarm invocation stay bounded. */
  async #cleanupBatch(run: CleanupRun, now: number): Promise<void> {
    const sessions = (this.env as ObjectEnv).SESSIONS;
    const outcome = await endBatch(this.ctx.storage, sessions, run, { now, sub: this.#meta.sub });
    // Sessions may have been handed over while the batch's calls were out: count them in.
    const { run: next, done } = withHandedOver(outcome, run, this.#meta.cleanup ?? run);
    const { cleanup: _finished, ...rest } = this.#meta;
    const meta: IndexMeta = done ? { ...rest, lastCleanup: next } : { ...rest, cleanup: next };
    this.#meta = meta;
    await Promise.all([
      this.ctx.storage.put(META, meta),
      ...(outcome.ended.length > 0 ? [this.ctx.storage.delete(outcome.ended)] : []),
    ]);
  }

  override async alarm(): Promise<void> {
    this.#alarmAt = undefined;
    const entries = await this.#load();
    const now = Date.now();
    const run = this.#meta.cleanup;
    if (run !== undefined && now >= run.nextAt) await this.#cleanupBatch(run, now);
    if (this.#meta.cutoff !== undefined && this.#meta.cutoff.until <= now) {
      const { cutoff: _expired, ...rest } = this.#meta;
      await this.#putMeta(rest);
    }
    this.#nothingEndsBefore = Number.NEGATIVE_INFINITY;
    await this.#prune(entries, now);
    if (entries.size === 0 && this.#meta.cleanup === undefined && this.#meta.cutoff === undefined) {
      await this.ctx.storage.deleteAlarm();
      await this.ctx.storage.deleteAll();
      this.#entries = undefined;
      this.#alarmAt = undefined;
      return;
    }
    await this.#schedule();
  }
}
