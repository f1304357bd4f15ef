/**
 * One Durable Object per session: the only authority for its refresh tokens.
 *
 * It stores (see docs/storage.md) the hash of the current refresh token, the hash of its
 * predecessor and when it was replaced, a few older hashes for reuse detection, the
 * absolute expiry and the idle timeout. Every operation runs inside
 * blockConcurrencyWhile, so refreshes of one session are strictly serialized: exactly one
 * rotation happens however many requests race, and the losers get the winner's result.
 */
import { DurableObject } from "cloudflare:workers";
import { hashRefreshToken, newRefreshToken } from "./refresh-token";
import { openSuccessor, type Sealed, sealSuccessor } from "./successor-seal";

const RECORD_KEY = "session";
/** How many replaced hashes are kept to recognise reuse of an older token. */
const RETIRED_HASHES_KEPT = 16;

export interface SessionRecord {
  readonly sid: string;
  readonly sub: string;
  readonly scope: readonly string[];
  readonly roles: readonly string[];
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly idleTimeoutMs: number;
  lastUsedAt: number;
  currentHash: string;
  previousHash: string | undefined;
  rotatedAt: number | undefined;
  successor: Sealed | undefined;
  retiredHashes: string[];
  revokedAt: number | undefined;
  revokedReason: string | undefined;
}

export interface CreateSessionInput {
  readonly sid: string;
  readonly sub: string;
  readonly scope: readonly string[];
  readonly roles: readonly string[];
  readonly now: number;
  readonly refreshTtlSeconds: number;
  readonly idleTtlSeconds: number;
}

/** What callers learn about a session (never its token hashes). */
export type SessionView = Pick<SessionRecord, "sid" | "sub" | "scope" | "roles" | "createdAt" | "expiresAt">;

export type RotateResult =
  | {
      readonly ok: true;
      readonly refreshToken: string;
      /** False when this call lost a race and got the winner's token within the grace window. */
      readonly rotated: boolean;
      /** Hash of the token presented, so the caller can list it as revoked. */
      readonly replacedHash: string;
      readonly session: SessionView;
    }
  | {
      readonly ok: false;
      readonly reason: "unknown" | "expired" | "revoked" | "reused";
      readonly session: SessionView | undefined;
    };

export interface RevokeResult {
  readonly revoked: boolean;
  readonly session: SessionView | undefined;
}

/** Did this session ever issue the token with this hash? */
function issued(record: SessionRecord, hash: string): boolean {
  return hash === record.currentHash || hash === record.previousHash || record.retiredHashes.includes(hash);
}

function view(record: SessionRecord): SessionView {
  const { sid, sub, scope, roles, createdAt, expiresAt } = record;
  return { sid, sub, scope, roles, createdAt, expiresAt };
}

export class SessionObject extends DurableObject {
  #record: SessionRecord | undefined;
  #loaded = false;

  async #load(): Promise<SessionRecord | undefined> {
    if (!this.#loaded) {
      this.#record = await this.ctx.storage.get<SessionRecord>(RECORD_KEY);
      this.#loaded = true;
    }
    return this.#record;
  }

  async #save(record: SessionRecord): Promise<void> {
    this.#record = record;
    await this.ctx.storage.put(RECORD_KEY, record);
  }

  #serialized<T>(work: () => Promise<T>): Promise<T> {
    return this.ctx.blockConcurrencyWhile(work);
  }

  /** Start the session; returns its first refresh token. */
  create(input: CreateSessionInput): Promise<{ refreshToken: string; session: SessionView }> {
    return this.#serialized(async () => {
      if (await this.#load()) throw new Error("session already exists");
      const refreshToken = newRefreshToken(input.sid);
      const record: SessionRecord = {
        sid: input.sid,
        sub: input.sub,
        scope: input.scope,
        roles: input.roles,
        createdAt: input.now,
        expiresAt: input.now + input.refreshTtlSeconds * 1000,
        idleTimeoutMs: input.idleTtlSeconds * 1000,
        lastUsedAt: input.now,
        currentHash: await hashRefreshToken(refreshToken),
        previousHash: undefined,
        rotatedAt: undefined,
        successor: undefined,
        retiredHashes: [],
        revokedAt: undefined,
        revokedReason: undefined,
      };
      await this.#save(record);
      await this.ctx.storage.setAlarm(record.expiresAt);
      return { refreshToken, session: view(record) };
    });
  }

  /** Exchange a refresh token for the next one (see the class comment for races). */
  rotate(input: { token: string; now: number; graceSeconds: number }): Promise<RotateResult> {
    return this.#serialized(async () => {
      const record = await this.#load();
      if (record === undefined) return { ok: false, reason: "unknown", session: undefined };
      const hash = await hashRefreshToken(input.token);
      // A token this session never issued proves nothing: refuse it without touching the session.
      if (!issued(record, hash)) return { ok: false, reason: "unknown", session: undefined };
      if (record.revokedAt !== undefined) return { ok: false, reason: "revoked", session: view(record) };
      if (input.now >= record.expiresAt || input.now - record.lastUsedAt > record.idleTimeoutMs) {
        return { ok: false, reason: "expired", session: view(record) };
      }

      if (hash === record.currentHash) {
        const refreshToken = newRefreshToken(record.sid);
        if (record.previousHash !== undefined) {
          record.retiredHashes = [record.previousHash, ...record.retiredHashes].slice(0, RETIRED_HASHES_KEPT);
        }
        record.previousHash = hash;
        record.rotatedAt = input.now;
        record.successor = await sealSuccessor(refreshToken, input.token);
        record.currentHash = await hashRefreshToken(refreshToken);
        record.lastUsedAt = input.now;
        await this.#save(record);
        return { ok: true, refreshToken, rotated: true, replacedHash: hash, session: view(record) };
      }

      const withinGrace =
        hash === record.previousHash &&
        record.rotatedAt !== undefined &&
        input.now - record.rotatedAt <= input.graceSeconds * 1000;
      const successor =
        withinGrace && record.successor ? await openSuccessor(record.successor, input.token) : undefined;
      if (successor !== undefined) {
        return { ok: true, refreshToken: successor, rotated: false, replacedHash: hash, session: view(record) };
      }

      // A replaced token presented again, outside the grace window: it was stolen or
      // replayed. Revoke the whole session (RFC 9700 §4.14.2).
      record.revokedAt = input.now;
      record.revokedReason = "refresh_token_reuse";
      await this.#save(record);
      return { ok: false, reason: "reused", session: view(record) };
    });
  }

  /**
   * Revoke the session. With `token`, only when it is one this session issued (so knowing
   * a session id is not enough to end someone else's session).
   */
  revoke(input: { token?: string; reason: string; now: number }): Promise<RevokeResult> {
    return this.#serialized(async () => {
      const record = await this.#load();
      if (record === undefined) return { revoked: false, session: undefined };
      if (input.token !== undefined && !issued(record, await hashRefreshToken(input.token))) {
        return { revoked: false, session: undefined };
      }
      if (record.revokedAt === undefined) {
        record.revokedAt = input.now;
        record.revokedReason = input.reason;
        await this.#save(record);
      }
      return { revoked: true, session: view(record) };
    });
  }

  /** The session's absolute expiry has come: forget it. */
  override async alarm(): Promise<void> {
    await this.ctx.storage.deleteAll();
    this.#record = undefined;
  }
}
