/**
 * What the per-subject session index (subject-sessions.ts) holds for each session, and
 * what it answers a mass ending with: plain data, shared by the object and the Worker's
 * side (subject-index.ts) without either importing the other.
 */
import type { CleanupRun } from "./session-cleanup";

export type LoginMethod = "password" | "oidc";

export interface SessionEntry {
  readonly sid: string;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  readonly lastUsedAt: number;
  readonly expiresAt: number;
  readonly idleTimeoutMs: number;
  readonly method: LoginMethod;
  /** For method "oidc": the login provider's id (absent in entries from before LOGIN_PROVIDERS: "oidc"). */
  readonly provider?: string;
  /** "Firefox on Linux"; "Unknown device" when the User-Agent says nothing useful. */
  readonly device: string;
  /** ISO 3166 alpha-2 country, when the platform provides it. */
  readonly country?: string;
}

/** When an entry stops mattering: its absolute expiry or its idle timeout, whichever is first. */
export function endOf(entry: SessionEntry): number {
  return Math.min(entry.expiresAt, entry.lastUsedAt + entry.idleTimeoutMs);
}

export interface EndAllInput {
  readonly sub: string;
  /** The session to spare (revoke-others: the caller's); none for revoke-subject. */
  readonly keep?: string;
  readonly reason: string;
  readonly now: number;
  readonly refreshTtlSeconds: number;
}

export interface EndAllResult {
  /** Sessions taken out of the list now, to be ended in the background. */
  readonly ended: number;
  /** Sessions still to end, these and any of an earlier clean-up. */
  readonly pending: number;
  /**
   * Every session of the subject that can still be alive is (or was) in this index, and
   * its clean-up is not overdue: a short subject revocation is safe.
   */
  readonly exact: boolean;
  /** The few the caller ends at once too (they are in the clean-up all the same). */
  readonly endNow: string[];
}

export interface CleanupStatus {
  readonly pending: number;
  readonly running?: CleanupRun;
  readonly last?: CleanupRun;
}
