/**
 * The Worker's use of each subject's list of live sessions (the SUBJECT_SESSIONS objects,
 * see subject-index.ts): adding a new session under the per-user cap, and reading the list.
 * Apart from Sessions (which composes it) so the listing rules read on their own.
 */
import type { GatewayConfig } from "../config/config";
import { GatewayError } from "../errors/gateway-error";
import { subjectIndex } from "./subject-index";
import type { SessionEntry } from "./subject-session-entry";
import type { SubjectSessions } from "./subject-sessions";

export interface SubjectSessionListOptions {
  readonly config: GatewayConfig;
  readonly now: () => number;
  /** Each subject's index of live sessions; without it, sessions are not listed. */
  readonly subjectIndex?: DurableObjectNamespace<SubjectSessions>;
  /** End a session by id (Sessions.endById): a session that cannot be listed must not live. */
  readonly endById: (sid: string, reason: string) => Promise<unknown>;
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

  /** The subject's live sessions (their index), newest first. */
  async listOf(sub: string): Promise<SessionEntry[]> {
    const namespace = this.#subjectIndex();
    const now = this.#options.now();
    return this.#indexed(() => subjectIndex(namespace, sub).list({ now }));
  }

  /**
   * List a new session in its subject's index; returns the sessions beyond the cap. When
   * the index cannot be written, the new session is ended: a session the user cannot see
   * (and end) must not exist.
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
