/**
 * Answers a decision service asked the gateway to remember (`cache_seconds`), per isolate:
 * for the same rule, subject, session, method and path, the same answer, until it expires,
 * without asking again. Bounded: at most MAX_REMEMBERED_DECISIONS entries, the oldest
 * dropped first, so a flood of distinct paths costs memory once and no more.
 *
 * Only answers are remembered, allow or deny; a failure (timeout, bad answer) never is.
 * Nothing here outlives the isolate, and nothing is shared between isolates or locations:
 * `cache_seconds` is "at most this long", never a promise that the service is not asked.
 */
import type { ExternalDecision } from "../policy/external-decision";

export const MAX_REMEMBERED_DECISIONS = 10_000;

interface Entry {
  readonly allow: boolean;
  /** Milliseconds since the epoch after which the entry is not used. */
  readonly until: number;
}

/** What a remembered answer is the answer for. */
export interface DecisionKey {
  readonly sub: string;
  readonly sid: string | undefined;
  readonly method: string;
  readonly path: string;
}

export class DecisionCache {
  readonly #entries = new Map<string, Entry>();
  readonly #ids = new WeakMap<ExternalDecision, number>();
  readonly #limit: number;
  #nextId = 0;

  constructor(limit = MAX_REMEMBERED_DECISIONS) {
    this.#limit = limit;
  }

  /** Entries held now (expired ones included until they are read or pushed out). */
  get size(): number {
    return this.#entries.size;
  }

  /** The remembered answer, or undefined when there is none that is still good at `now`. */
  get(decision: ExternalDecision, key: DecisionKey, now: number): boolean | undefined {
    const name = this.#name(decision, key);
    const entry = this.#entries.get(name);
    if (entry === undefined) return undefined;
    if (entry.until <= now) {
      this.#entries.delete(name);
      return undefined;
    }
    return entry.allow;
  }

  /** Remember `allow` for `seconds` (nothing for 0). */
  set(decision: ExternalDecision, key: DecisionKey, allow: boolean, seconds: number, now: number): void {
    if (seconds <= 0) return;
    const name = this.#name(decision, key);
    // Re-inserted at the end: the Map's order is the order of last writes, oldest first.
    this.#entries.delete(name);
    while (this.#entries.size >= this.#limit) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
    this.#entries.set(name, { allow, until: now + seconds * 1000 });
  }

  /** One string per (rule of this config, subject, session, method, path); JSON keeps the parts apart. */
  #name(decision: ExternalDecision, key: DecisionKey): string {
    let id = this.#ids.get(decision);
    if (id === undefined) {
      id = this.#nextId++;
      this.#ids.set(decision, id);
    }
    return JSON.stringify([id, key.sub, key.sid ?? null, key.method, key.path]);
  }
}
