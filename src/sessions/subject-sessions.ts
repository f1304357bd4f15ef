/**
 * One Durable Object per subject (binding SUBJECT_SESSIONS): the index of that user's
 * live sessions, so "where am I signed in" and "sign out the others" are exact. It is
 * strongly consistent and single-threaded, unlike KV, so a session that just began or
 * ended is listed (or gone) at the very next read, from anywhere.
 *
 * It holds, per session (see docs/storage.md): created and last-used times, the absolute
 * expiry and idle timeout, how the user logged in, and a coarse device (browser and OS,
 * country). Never an IP address, never a token. The session's own object stays the
 * authority on whether a session is alive; this index only lists them.
 *
 * Expired sessions are pruned on every write and read, and by an alarm at the next
 * expiry, so an index of a user who never comes back empties itself.
 */
import { DurableObject } from "cloudflare:workers";
import { endOf, type SessionEntry } from "./subject-session-entry";

const PREFIX = "s:";

export class SubjectSessions extends DurableObject {
  #entries: Map<string, SessionEntry> | undefined;
  /** No entry ends before this (ms): until then, nothing needs pruning. */
  #nothingEndsBefore = Number.POSITIVE_INFINITY;

  async #load(): Promise<Map<string, SessionEntry>> {
    if (this.#entries === undefined) {
      const stored = await this.ctx.storage.list<SessionEntry>({ prefix: PREFIX });
      this.#entries = new Map([...stored.values()].map((entry) => [entry.sid, entry]));
      this.#nothingEndsBefore = Number.NEGATIVE_INFINITY; // unknown: the first prune scans
    }
    return this.#entries;
  }

  /**
   * Drop expired entries and wake up again at the next expiry. Cheap when nothing can
   * have expired yet, so logins and rotations stay O(1) however many sessions are listed.
   */
  async #prune(entries: Map<string, SessionEntry>, now: number): Promise<void> {
    if (now < this.#nothingEndsBefore) return;
    const expired = [...entries.values()].filter((entry) => endOf(entry) <= now).map((entry) => entry.sid);
    for (const sid of expired) entries.delete(sid);
    if (expired.length > 0) await this.ctx.storage.delete(expired.map((sid) => PREFIX + sid));
    let next = Number.POSITIVE_INFINITY;
    for (const entry of entries.values()) next = Math.min(next, endOf(entry));
    this.#nothingEndsBefore = next;
    if (Number.isFinite(next)) await this.ctx.storage.setAlarm(next);
    else await this.ctx.storage.deleteAlarm();
  }

  /** A new entry that ends before anything listed so far: prune (and wake) by it. */
  async #endsAt(end: number): Promise<void> {
    if (end >= this.#nothingEndsBefore) return;
    this.#nothingEndsBefore = end;
    await this.ctx.storage.setAlarm(end);
  }

  /**
   * List a new session. With `max` > 0, the oldest sessions beyond it are taken out of
   * the index and returned: the caller ends them.
   */
  async add(input: { entry: SessionEntry; max: number; now: number }): Promise<string[]> {
    const entries = await this.#load();
    await this.#prune(entries, input.now);
    entries.set(input.entry.sid, input.entry);
    await this.ctx.storage.put(PREFIX + input.entry.sid, input.entry);
    await this.#endsAt(endOf(input.entry));
    if (input.max <= 0 || entries.size <= input.max) return [];
    const oldest = [...entries.values()]
      .filter((entry) => entry.sid !== input.entry.sid)
      .sort((a, b) => a.createdAt - b.createdAt)
      .slice(0, entries.size - input.max)
      .map((entry) => entry.sid);
    for (const sid of oldest) entries.delete(sid);
    await this.ctx.storage.delete(oldest.map((sid) => PREFIX + sid));
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

  /** The live sessions, newest first. */
  async list(input: { now: number }): Promise<SessionEntry[]> {
    const entries = await this.#load();
    await this.#prune(entries, input.now);
    return [...entries.values()].sort((a, b) => b.createdAt - a.createdAt);
  }

  override async alarm(): Promise<void> {
    const entries = await this.#load();
    this.#nothingEndsBefore = Number.NEGATIVE_INFINITY;
    await this.#prune(entries, Date.now());
    if (entries.size === 0) {
      await this.ctx.storage.deleteAll();
      this.#entries = undefined;
    }
  }
}
