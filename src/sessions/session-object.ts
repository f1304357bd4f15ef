/**
 * One Durable Object per session: the only authority for its refresh tokens.
 *
 * It stores (see docs/storage.md) the hash of the current refresh token, the hash of its
 * predecessor and when it was replaced, a few older hashes for reuse detection, the
 * absolute expiry and the idle timeout. Every operation runs inside
 * blockConcurrencyWhile, so refreshes of one session are strictly serialized: exactly one
 * rotation happens however many requests race, and the losers get the winner's result.
 *
 * A session begun through an OpenID Connect provider also holds the provider's tokens,
 * sealed (`idp`). The rotation refreshes them at the provider first when they are about
 * to expire — inside the same serialization, so the provider sees one refresh per
 * session however many requests race, and never a reused refresh token.
 *
 * The record and the results it answers with are in session-record.ts.
 */
import { DurableObject } from "cloudflare:workers";
import type { ConfigEnv } from "../config/env";
import { log } from "../log/logger";
import { claimProofJti } from "./proof-jtis";
import { hashRefreshToken, newRefreshToken } from "./refresh-token";
import { type SessionHost, SessionProvider } from "./session-provider";
import {
  type CreateSessionInput,
  type IdpAccessTokenResult,
  issued,
  keyCheck,
  type RevokeResult,
  type RotateInput,
  type RotateResult,
  type SessionRecord,
  type SessionView,
  view,
} from "./session-record";
import { leaveSubjectIndex, subjectIndex } from "./subject-index";
import type { SubjectSessions } from "./subject-sessions";
import { openSuccessor, sealSuccessor } from "./successor-seal";

const RECORD_KEY = "session";
/**
 * The subject's index learns a rotation only when the last one is at least this long ago:
 * "last used" to the minute is plenty for a list of sessions, and a burst of rotations
 * (racing tabs, a busy client) costs the index nothing.
 */
const LAST_USED_PRECISION_MS = 60_000;
/** What this object reads from its env besides the settings: the subject index. */
type ObjectEnv = ConfigEnv & { readonly SUBJECT_SESSIONS?: DurableObjectNamespace<SubjectSessions> };

/** How many replaced hashes are kept to recognise reuse of an older token. */
const RETIRED_HASHES_KEPT = 16;

export class SessionObject extends DurableObject {
  #record: SessionRecord | undefined;
  #loaded = false;
  readonly #provider = new SessionProvider(this.env as ConfigEnv);
  readonly #host: SessionHost = {
    save: (record) => this.#save(record),
    end: (record, now, reason) => this.#end(record, now, reason),
  };

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

  /** The provider's current access token for forwarding upstream, refreshed when about to expire. */
  idpAccessToken(input: { now: number }): Promise<IdpAccessTokenResult> {
    return this.#serialized(async () => {
      const record = await this.#load();
      if (record === undefined || record.idp === undefined) return { ok: false, reason: "none" };
      if (record.revokedAt !== undefined || input.now >= record.expiresAt) return { ok: false, reason: "ended" };
      const result = await this.#provider.refresh(record, input.now, this.#host);
      if (!result.ok) return { ok: false, reason: result.reason };
      return { ok: true, token: result.accessToken as string, expiresAt: record.idp?.accessExpiresAt };
    });
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
        idp: input.idp === undefined ? undefined : await this.#provider.seal(input.sid, input.idp),
        ...(input.jkt !== undefined ? { jkt: input.jkt } : {}),
        ...(input.identity !== undefined ? { identity: input.identity } : {}),
      };
      await this.#save(record);
      await this.ctx.storage.setAlarm(record.expiresAt);
      return { refreshToken, session: view(record) };
    });
  }

  /**
   * Exchange a refresh token for the next one (see the class comment for races). `jkt`: the
   * key of the DPoP proof that came with it; a bound session needs its own key's.
   */
  rotate(input: RotateInput): Promise<RotateResult> {
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
      const key = keyCheck(record, input);
      if (key === "key_required") return { ok: false, reason: key, session: view(record) };
      // The session's refresh token without its key: lifted from where it was kept. As for
      // reuse, the session ends, so the thief's copy and the victim's alike are dead.
      if (key === "key_mismatch") return this.#endAsStolen(record, input.now, "dpop_key_mismatch", key);

      if (hash === record.currentHash) {
        // The provider first: if it ended the grant, so does this session; if it is down,
        // nothing rotates and the caller answers 503 with the session intact.
        const idp = await this.#provider.refresh(record, input.now, this.#host);
        if (!idp.ok) return { ok: false, reason: idp.reason, session: view(record) };
        const refreshToken = newRefreshToken(record.sid);
        if (record.previousHash !== undefined) {
          record.retiredHashes = [record.previousHash, ...record.retiredHashes].slice(0, RETIRED_HASHES_KEPT);
        }
        record.previousHash = hash;
        record.rotatedAt = input.now;
        // The first refresh that brings a proof binds the session to its key for good.
        if (input.jkt !== undefined) record.jkt = input.jkt;
        record.successor = await sealSuccessor(refreshToken, input.token);
        record.currentHash = await hashRefreshToken(refreshToken);
        const usedBefore = record.lastUsedAt;
        record.lastUsedAt = input.now;
        await this.#save(record);
        if (input.now - usedBefore >= LAST_USED_PRECISION_MS) this.#touchIndex(record);
        return {
          ok: true,
          refreshToken,
          rotated: true,
          replacedHash: hash,
          session: view(record),
          ...(input.wantIdpToken && idp.accessToken !== undefined ? { idpAccessToken: idp.accessToken } : {}),
        };
      }

      const withinGrace =
        hash === record.previousHash &&
        record.rotatedAt !== undefined &&
        input.now - record.rotatedAt <= input.graceSeconds * 1000;
      const successor =
        withinGrace && record.successor ? await openSuccessor(record.successor, input.token) : undefined;
      if (successor !== undefined) {
        // The winner already brought the provider's tokens up to date: hand out what it got.
        const idpTokens =
          input.wantIdpToken && record.idp ? (await this.#provider.open(record.sid, record.idp))?.tokens : undefined;
        return {
          ok: true,
          refreshToken: successor,
          rotated: false,
          replacedHash: hash,
          session: view(record),
          ...(idpTokens ? { idpAccessToken: idpTokens.accessToken } : {}),
        };
      }

      // A replaced token presented again, outside the grace window: it was stolen or
      // replayed. Revoke the whole session (RFC 9700 §4.14.2).
      return this.#endAsStolen(record, input.now, "refresh_token_reuse", "reused");
    });
  }

  async #endAsStolen(
    record: SessionRecord,
    now: number,
    revokedReason: string,
    reason: "reused" | "key_mismatch",
  ): Promise<RotateResult> {
    await this.#end(record, now, revokedReason);
    return { ok: false, reason, session: view(record) };
  }

  /** End the session in its record: it answers as revoked from now on, and leaves the subject's index. */
  async #end(record: SessionRecord, now: number, reason: string, leaveIndex = true): Promise<void> {
    record.revokedAt = now;
    record.revokedReason = reason;
    await this.#save(record);
    if (leaveIndex) await this.#leaveIndex(record);
  }

  /**
   * Revoke the session. With `token`, only when it is one this session issued (so knowing
   * a session id is not enough to end someone else's session). `fromIndex`: the subject's
   * index is the caller and already took the session out (its background clean-up,
   * session-cleanup.ts), so it is not called back.
   */
  revoke(input: { token?: string; reason: string; now: number; fromIndex?: boolean }): Promise<RevokeResult> {
    return this.#serialized(async () => {
      const record = await this.#load();
      if (record === undefined) return { revoked: false, session: undefined };
      if (input.token !== undefined && !issued(record, await hashRefreshToken(input.token))) {
        return { revoked: false, session: undefined };
      }
      const wasLive = record.revokedAt === undefined;
      if (wasLive) await this.#end(record, input.now, input.reason, input.fromIndex !== true);
      // Ending a session never depends on its provider's settings still being there.
      const opened = wasLive && record.idp ? await this.#provider.open(record.sid, record.idp) : undefined;
      const idpTokens = opened?.tokens;
      return {
        revoked: true,
        session: view(record),
        ...(idpTokens
          ? {
              idpLogout: {
                provider: opened?.provider.id,
                idToken: idpTokens.idToken,
                sub: idpTokens.sub,
                ...(idpTokens.refreshToken ? { refreshToken: idpTokens.refreshToken } : {}),
                // GitHub revokes its access token (github/github-revoke.ts); OIDC, the refresh token.
                ...(opened?.provider.kind === "github" ? { accessToken: idpTokens.accessToken } : {}),
              },
            }
          : {}),
      };
    });
  }

  /**
   * Is the session alive right now? For routes with `revocation = "strict"`: asked on
   * every request, so an ending here bites everywhere at the next request. With `proof` (a
   * DPoP proof's jti and window), "replayed" when the session's requests brought it before.
   */
  async isAlive(input: { now: number; proof?: { jti: string; until: number } }): Promise<boolean | "replayed"> {
    const record = await this.#load();
    if (record === undefined || record.revokedAt !== undefined) return false;
    if (input.now >= record.expiresAt || input.now - record.lastUsedAt > record.idleTimeoutMs) return false;
    if (input.proof && !claimProofJti(this.ctx.storage.sql, input.proof.jti, input.proof.until, input.now)) {
      return "replayed";
    }
    return true;
  }

  /** The subject's index (SUBJECT_SESSIONS) no longer lists an ended session. */
  #leaveIndex(record: SessionRecord): Promise<void> {
    return leaveSubjectIndex((this.env as ObjectEnv).SUBJECT_SESSIONS, record.sub, record.sid);
  }

  /** Last-used in the subject's index, after the answer: a rotation never waits for it. */
  #touchIndex(record: SessionRecord): void {
    const namespace = (this.env as ObjectEnv).SUBJECT_SESSIONS;
    if (namespace === undefined) return;
    const touched = subjectIndex(namespace, record.sub)
      .touch({ sid: record.sid, now: record.lastUsedAt })
      .catch((error: unknown) => log.warn("subject_index_unavailable", { sid: record.sid, reason: String(error) }));
    this.ctx.waitUntil(touched);
  }

  /** The session's absolute expiry has come: forget it. */
  override async alarm(): Promise<void> {
    const record = await this.#load();
    if (record !== undefined && record.revokedAt === undefined) await this.#leaveIndex(record);
    await this.ctx.storage.deleteAll();
    this.#record = undefined;
  }
}
