/**
 * The Worker's use of each subject's list of live sessions (the SUBJECT_SESSIONS objects,
 * see subject-index.ts): adding a new session under the per-user cap, reading the list a
 * page at a time, and ending all of a subject's sessions but one. Apart from Sessions
 * (which composes it) so the listing rules read on their own.
 */
import type { GatewayConfig } from "../config/config";
import { GatewayError } from "../errors/gateway-error";
import type { Revocations } from "../revocation/revocation-store";
import { cleanupBoundSeconds } from "./session-cleanup";
import type { SessionObject } from "./session-object";
import type { PagePosition, SessionPage } from "./session-page";
import { subjectIndex } from "./subject-index";
import type { SessionEntry } from "./subject-session-entry";
import type { SubjectSessions } from "./subject-sessions";

export interface SubjectSessionListOptions {
  readonly config: GatewayConfig;
  readonly revocations: Revocations;
  /** The sessions' own objects (SESSIONS), for the few a mass ending ends in the request. */
  readonly sessionObjects: DurableObjectNamespace<SessionObject>;
  readonly now: () => number;
  /** Each subject's index of live sessions; without it, sessions are not listed. */
  readonly subjectIndex?: DurableObjectNamespace<SubjectSessions>;
  /** End a session by id (Sessions.endById): a session that cannot be listed must not live. */
  readonly endById: (sid: string, reason: string) => Promise<unknown>;
}

export interface EndAllOptions {
  /** The session to spare (the caller's, for "sign out everywhere else"). */
  readonly keep?: string;
  readonly reason: string;
}

/**
 * How long a subject revocation (a `sub` entry) must live, in seconds. It refuses the
 * tokens of the sessions it covers until each of their objects is ended; after that, only
 * access tokens issued before it can still be presented. When the index vouches that it
 * held every session that can still be alive (`exact`), that is the clean-up's bound plus
 * an access token's life. Otherwise a session the index never saw could outlive a short
 * entry, so it lives as long as any session can: REFRESH_TOKEN_TTL. See docs/storage.md.
 */
export function subjectRevocationTtl(config: GatewayConfig, plan: { exact: boolean; pending: number }): number {
  if (!plan.exact) return config.refreshTokenTtl;
  const short = cleanupBoundSeconds(plan.pending) + config.accessTokenTtl + config.clockToleranceSeconds;
  return Math.min(short, config.refreshTokenTtl);
}

export class SubjectSessionList {
  readonly #options: SubjectSessionListOptions;

  constructor(options: SubjectSessionListOptions) {
    this.#options = options;
  }

  /** Are sessions listed per subject (the SUBJECT_SESSIONS binding)? */
  get indexesSubjects(): boolean {
    return this.#options.subjectIndex !== undefined;
  }

  /** A page of the subject's live sessions, newest first, starting after `after`. */
  page(sub: string, limit: number, after?: PagePosition): Promise<SessionPage> {
    const stub = subjectIndex(this.#subjectIndex(), sub);
    const now = this.#options.now();
    return this.#indexed(() => stub.page({ now, limit, ...(after !== undefined ? { after } : {}) }));
  }

  /** Is `sid` one of the subject's live sessions? */
  holds(sub: string, sid: string): Promise<boolean> {
    const stub = subjectIndex(this.#subjectIndex(), sub);
    const now = this.#options.now();
    return this.#indexed(() => stub.holds({ sid, now }));
  }

  /**
   * End every session of `sub` but `keep`, answering at once: one call to the subject's
   * index, which takes them out of the list and ends their objects in the background
   * (session-cleanup.ts), then one `sub` revocation, which refuses their tokens from now
   * on. The index goes first, so that a short revocation is only ever recorded for work
   * the index has durably taken on. The few most recently used sessions are also ended
   * here, one call each (strict routes ask their objects). Returns how many sessions it ends.
   *
   * Without the index (no SUBJECT_SESSIONS), only the revocation, living as long as any
   * session can; `keep` then needs the index (a misconfiguration otherwise).
   */
  async endAll(sub: string, options: EndAllOptions): Promise<number> {
    const { config, revocations, subjectIndex: namespace } = this.#options;
    const keep = options.keep !== undefined ? { keep: options.keep } : {};
    if (namespace === undefined && options.keep === undefined) {
      await revocations.revokeSubject(sub, config.refreshTokenTtl, options.reason);
      return 0;
    }
    const stub = subjectIndex(this.#subjectIndex(), sub);
    const input = { sub, reason: options.reason, now: this.#options.now(), refreshTtlSeconds: config.refreshTokenTtl };
    const plan = await this.#indexed(() => stub.endAll({ ...input, ...keep }));
    await revocations.revokeSubject(sub, subjectRevocationTtl(config, plan), options.reason, keep);
    const { sessionObjects, now } = this.#options;
    // One attempt each, failures left to the clean-up, which ends them too.
    await Promise.allSettled(
      plan.endNow.map((sid) =>
        sessionObjects
          .get(sessionObjects.idFromName(sid))
          .revoke({ reason: options.reason, now: now(), fromIndex: true }),
      ),
    );
    return plan.ended;
  }

  /**
   * List a new session in its subject's index; returns the sessions it ends (beyond the
   * cap, or caught by a mass logout that came while this login was under way). When the
   * index cannot be written, the new session is ended: a session the user cannot see (and
   * end) must not exist.
   */
  async add(sub: string, entry: SessionEntry): Promise<string[]> {
    const namespace = this.#options.subjectIndex;
    if (namespace === undefined) return [];
    const { config, now } = this.#options;
    try {
      return await subjectIndex(namespace, sub).add({ entry, max: config.maxSessionsPerUser, now: now() });
    } catch (error) {
      await this.#options.endById(entry.sid, "index_unavailable").catch(() => undefined);
      throw new GatewayError("session_store_unavailable", { detail: "subject index call failed", cause: error });
    }
  }

  #subjectIndex(): DurableObjectNamespace<SubjectSessions> {
    const namespace = this.#options.subjectIndex;
    if (namespace === undefined) {
      throw new GatewayError("misconfigured", { detail: "SUBJECT_SESSIONS: listing sessions needs this binding" });
    }
    return namespace;
  }

  async #indexed<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw new GatewayError("session_store_unavailable", { detail: "subject index call failed", cause: error });
    }
  }
}
