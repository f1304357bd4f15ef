/**
 * What the per-subject session index (subject-sessions.ts) holds for each session: plain
 * data, shared by the object and the Worker's side (subject-index.ts) without either
 * importing the other.
 */

export type LoginMethod = "password" | "oidc";

export interface SessionEntry {
  readonly sid: string;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  readonly lastUsedAt: number;
  readonly expiresAt: number;
  readonly idleTimeoutMs: number;
  readonly method: LoginMethod;
  /** "Firefox on Linux"; "Unknown device" when the User-Agent says nothing useful. */
  readonly device: string;
  /** ISO 3166 alpha-2 country, when the platform provides it. */
  readonly country?: string;
}

/** When an entry stops mattering: its absolute expiry or its idle timeout, whichever is first. */
export function endOf(entry: SessionEntry): number {
  return Math.min(entry.expiresAt, entry.lastUsedAt + entry.idleTimeoutMs);
}
