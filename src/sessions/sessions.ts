/**
 * The Worker's side of sessions: starts them, rotates refresh tokens through the
 * session's Durable Object, and turns the outcome into tokens or a refusal.
 *
 * A refused refresh token (`grant_invalid`) is dead: the answer clears the cookies.
 * Reuse of a rotated refresh token revokes the session in the object *and* records the
 * session id in the revocation ledger, so every access token of the session is refused
 * from then on. A rotation is recorded in the ledger before anything is forwarded
 * (ROTATION_RECORD "ledger", the default), or left to the session object ("session").
 *
 * Sessions begun through an OpenID Connect provider carry the provider's tokens (sealed,
 * in the object) and are listed in the IDP_LOGOUT_INDEX objects by the provider's sid and
 * sub, so a back-channel logout can find and end them. When the provider ends the grant,
 * the session ends; when it is down, the answer is 503 and the session is kept.
 */
import type { GatewayConfig } from "../config/config";
import { GatewayError } from "../errors/gateway-error";
import { log } from "../log/logger";
import type { Metrics } from "../metrics/metrics";
import type { IdpTokens } from "../oidc/idp-tokens";
import type { Revocations } from "../revocation/revocation-store";
import type { IssuedAccessToken } from "../tokens/issue-access-token";
import { issueAccessToken } from "../tokens/issue-access-token";
import type { KeyRing } from "../tokens/key-ring";
import type { ClientDescription } from "./device";
import type { IdpLogoutIndex } from "./idp-logout-index";
import { indexName } from "./idp-logout-index-name";
import { newSessionId, refreshTokenId, sessionOfRefreshToken } from "./refresh-token";
import type { IdpAccessTokenResult, RevokeResult, RotateResult, SessionObject, SessionView } from "./session-object";
import { type SessionEntry, subjectIndex } from "./subject-index";
import type { SubjectSessions } from "./subject-sessions";

/** Calls to a session object, counting the first; retries only errors marked retryable. */
const SESSION_CALL_ATTEMPTS = 3;
const BACKOFF_BASE_MS = 10;

function isRetryable(error: unknown): boolean {
  const marks = error as { retryable?: unknown; overloaded?: unknown } | null;
  return marks?.retryable === true && marks.overloaded !== true;
}

/** Full jitter: anywhere up to 10 ms, then 20 ms, so racing retries spread out. */
function pause(attempt: number): Promise<void> {
  const ms = Math.random() * BACKOFF_BASE_MS * 2 ** (attempt - 1);
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The session a transparent refresh expects, from the expired access token's verified claims. */
export interface ExpectedSession {
  readonly sid: string;
  readonly sub: string;
  /** The session's start (the token's `auth_time`), seconds. */
  readonly authTime: number;
}

export interface GrantedTokens {
  readonly accessToken: IssuedAccessToken;
  readonly refreshToken: string;
  /** Seconds the refresh cookie should live. */
  readonly refreshMaxAge: number;
  readonly session: SessionView;
  /** True when this call performed the rotation (false for a racer given the winner's result). */
  readonly rotated: boolean;
  /** The provider's access token (OIDC sessions, when OIDC_FORWARD_IDP_TOKEN is on). */
  readonly idpAccessToken?: string;
}

/** A session that ended; `idpLogout` when it was an OIDC session (for the end-session URL). */
export type EndedSession = SessionView & { readonly idpLogout?: RevokeResult["idpLogout"] };

export interface SessionsOptions {
  readonly config: GatewayConfig;
  readonly namespace: DurableObjectNamespace<SessionObject>;
  readonly revocations: Revocations;
  readonly keys: KeyRing;
  readonly now: () => number;
  readonly requestId: string;
  /** Needed for OIDC sessions (back-channel logout); see idp-logout-index.ts. */
  readonly logoutIndex?: DurableObjectNamespace<IdpLogoutIndex>;
  /** Each subject's index of live sessions; without it, sessions are not listed. */
  readonly subjectIndex?: DurableObjectNamespace<SubjectSessions>;
  readonly metrics: Metrics;
}

/** The provider access tokens this isolate handed upstream lately, by session id (bounded). */
const idpTokenCache = new Map<string, { token: string; freshUntil: number }>();
const IDP_TOKEN_CACHE_ENTRIES = 1_000;

export class Sessions {
  readonly #options: SessionsOptions;

  constructor(options: SessionsOptions) {
    this.#options = options;
  }

  #stub(sid: string): DurableObjectStub<SessionObject> {
    const { namespace } = this.#options;
    return namespace.get(namespace.idFromName(sid));
  }

  /**
   * One call to the session's object. An error the platform marks `.retryable` (and not
   * `.overloaded`, where retrying adds to the load) is retried on a fresh stub after a
   * short jittered backoff, so a transient reset during a login burst is not a 503. A
   * repeated `rotate` is safe: the object answers a racer within the grace window.
   */
  async #call<T>(sid: string, work: (stub: DurableObjectStub<SessionObject>) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await work(this.#stub(sid));
      } catch (error) {
        if (attempt < SESSION_CALL_ATTEMPTS && isRetryable(error)) {
          await pause(attempt);
          continue;
        }
        throw new GatewayError("session_store_unavailable", {
          detail: `session object call failed (attempt ${attempt})`,
          cause: error,
        });
      }
    }
  }

  async #mint(session: SessionView, now: number): Promise<IssuedAccessToken> {
    const { config, keys } = this.#options;
    return issueAccessToken(
      {
        sub: session.sub,
        sid: session.sid,
        authTime: Math.floor(session.createdAt / 1000),
        scope: session.scope,
        roles: session.roles,
      },
      keys.signer,
      { issuer: config.issuer, audience: config.audience, ttlSeconds: config.accessTokenTtl, now },
    );
  }

  /** Begin a session for a subject the credential check (or the OIDC provider, with `idp`) vouched for. */
  async start(
    subject: { sub: string; scope: readonly string[]; roles: readonly string[] },
    client: ClientDescription,
    idp?: IdpTokens,
  ): Promise<GrantedTokens> {
    const { config, now } = this.#options;
    if (this.#options.keys.signer === undefined) {
      throw new GatewayError("misconfigured", { detail: "SIGNING_KEYS: sessions need a signing key" });
    }
    const sid = newSessionId();
    const time = now();
    const { refreshToken, session } = await this.#call(sid, (stub) =>
      stub.create({
        sid,
        ...subject,
        now: time,
        refreshTtlSeconds: config.refreshTokenTtl,
        idleTtlSeconds: config.sessionIdleTtl,
        ...(idp ? { idp } : {}),
      }),
    );
    if (idp !== undefined) await this.#index(session, idp);
    const method = idp === undefined ? "password" : "oidc";
    const beyondCap = await this.#listSession(subject.sub, {
      sid,
      createdAt: time,
      lastUsedAt: time,
      expiresAt: session.expiresAt,
      idleTimeoutMs: config.sessionIdleTtl * 1000,
      method,
      ...client,
    });
    for (const oldest of beyondCap) await this.endById(oldest, "session_cap");
    this.#options.metrics.record("login", method);
    const accessToken = await this.#mint(session, time);
    return { accessToken, refreshToken, refreshMaxAge: config.refreshTokenTtl, session, rotated: true };
  }

  /**
   * Exchange a refresh token for new tokens. `expected`, when given (a transparent
   * refresh: the verified claims of the expired access token), names the session the
   * refresh token must belong to; its subject's revocation is then read from KV while the
   * session object rotates, instead of after it.
   */
  async refresh(refreshToken: string, expected?: ExpectedSession): Promise<GrantedTokens> {
    const { config, revocations, now, requestId } = this.#options;
    const sid = sessionOfRefreshToken(refreshToken);
    if (sid === undefined)
      throw new GatewayError("grant_invalid", { detail: "not a Portcullis refresh token", clearSession: true });
    if (expected !== undefined && sid !== expected.sid) {
      throw new GatewayError("grant_invalid", {
        detail: "refresh token belongs to another session",
        clearSession: true,
      });
    }
    const time = now();
    const earlySubjectCheck = expected && revocations.isSubjectRevoked(expected.sub, expected.authTime);
    // Awaited below, or not at all when the rotation fails first: never an unhandled rejection.
    earlySubjectCheck?.catch(() => undefined);
    const result = await this.#call(
      sid,
      async (stub): Promise<RotateResult> =>
        (await stub.rotate({
          token: refreshToken,
          now: time,
          graceSeconds: config.refreshGraceSeconds,
          wantIdpToken: config.oidc?.forwardIdpToken === true,
        })) as RotateResult,
    );
    if (!result.ok) {
      if (result.reason === "idp_unavailable") {
        throw new GatewayError("idp_unavailable", { detail: "IdP refresh failed; session kept", retryAfter: 5 });
      }
      if (result.reason === "reused") {
        log.security("refresh_token_reuse", { requestId, sid, sub: result.session?.sub });
        this.#options.metrics.record("reuse_detected");
        await this.#revokeSessionTokens(sid, "refresh_token_reuse");
      }
      if (result.reason === "idp_ended") {
        log.security("idp_grant_ended", { requestId, sid, sub: result.session?.sub });
        await this.#revokeSessionTokens(sid, "idp_grant_ended");
      }
      throw new GatewayError("grant_invalid", { detail: `refresh token ${result.reason}`, clearSession: true });
    }
    if (config.rotationRecord === "ledger") {
      // The replaced token's id is recorded before anything is forwarded. A racer (or the
      // retry after a failed record) records it again: the ledger keeps one entry. The
      // entry lives as long as the replaced token is still accepted (the grace window);
      // after that the session object treats it as reuse and ends the session.
      await revocations.recordRotation(
        sid,
        refreshTokenId(result.replacedHash),
        config.refreshGraceSeconds + config.clockToleranceSeconds,
      );
    }
    if (result.rotated) log.info("session_rotated", { requestId, sid });
    this.#options.metrics.record(result.rotated ? "rotation" : "grace_refresh");
    // "Log out everywhere" (a subject-wide revocation) also ends refreshing. The early read
    // answers for this session when it asked about the same subject and session start.
    const { sub, createdAt } = result.session;
    const authTime = Math.floor(createdAt / 1000);
    const sameQuestion = earlySubjectCheck && expected.sub === sub && expected.authTime === authTime;
    if (await (sameQuestion ? earlySubjectCheck : revocations.isSubjectRevoked(sub, authTime))) {
      await this.endById(sid, "subject_revoked");
      throw new GatewayError("grant_invalid", { detail: "subject revoked", clearSession: true });
    }
    const accessToken = await this.#mint(result.session, time);
    return {
      accessToken,
      refreshToken: result.refreshToken,
      refreshMaxAge: Math.max(0, Math.floor((result.session.expiresAt - time) / 1000)),
      session: result.session,
      rotated: result.rotated,
      ...(result.idpAccessToken !== undefined ? { idpAccessToken: result.idpAccessToken } : {}),
    };
  }

  /** End the session a refresh token belongs to (only if the token is really its). */
  async endByRefreshToken(refreshToken: string, reason: string): Promise<EndedSession | undefined> {
    const sid = sessionOfRefreshToken(refreshToken);
    if (sid === undefined) return undefined;
    const result = await this.#call(
      sid,
      async (stub): Promise<RevokeResult> =>
        (await stub.revoke({ token: refreshToken, reason, now: this.#options.now() })) as RevokeResult,
    );
    if (!result.revoked || result.session === undefined) return undefined;
    await this.#revokeSessionTokens(sid, reason);
    return { ...result.session, idpLogout: result.idpLogout };
  }

  /** End a session by id (the access token's `sid`, already verified). */
  async endById(sid: string, reason: string): Promise<EndedSession | undefined> {
    const result = await this.#call(
      sid,
      async (stub): Promise<RevokeResult> => (await stub.revoke({ reason, now: this.#options.now() })) as RevokeResult,
    );
    await this.#revokeSessionTokens(sid, reason);
    return result.session === undefined ? undefined : { ...result.session, idpLogout: result.idpLogout };
  }

  /**
   * Back-channel logout: end every session begun in the provider's session `idpSid`, or
   * (without a sid) every session of the provider subject `sub` (namespaced). Returns how many.
   */
  async endByIdp(issuer: string, match: { idpSid?: string; sub?: string }, reason: string): Promise<number> {
    const names =
      match.idpSid !== undefined
        ? [await indexName("idp-sid", issuer, match.idpSid)]
        : [await indexName("idp-sub", issuer, match.sub as string)];
    let ended = 0;
    for (const name of names) {
      const sids = await this.#indexCall(name, (stub) => stub.take());
      for (const sid of sids) {
        const session = await this.endById(sid, reason);
        // A sub-less logout token names a sid: only sessions of that sid were listed. With
        // both, a session of another subject is left alone.
        if (session !== undefined) ended += 1;
      }
    }
    return ended;
  }

  /**
   * True the first time only, strongly consistent: a logout token's `jti`, or a login's
   * `state` (so a replayed callback never reaches the provider). Kept until `until`.
   */
  claimOnce(kind: "jti" | "state", issuer: string, value: string, until: number): Promise<boolean> {
    return indexName(kind, issuer, value).then((name) => this.#indexCall(name, (stub) => stub.claim({ until })));
  }

  /**
   * The provider's access token of an OIDC session, fresh (refreshed inside the session
   * object when about to expire); undefined for a session without one. Cached in the
   * isolate until it is about to expire.
   */
  async idpAccessToken(sid: string): Promise<string | undefined> {
    const { config, now } = this.#options;
    const time = now();
    const cached = idpTokenCache.get(sid);
    if (cached !== undefined && cached.freshUntil > time) return cached.token;
    const result = await this.#call(
      sid,
      async (stub): Promise<IdpAccessTokenResult> => (await stub.idpAccessToken({ now: time })) as IdpAccessTokenResult,
    );
    if (result.ok) {
      const freshUntil = (result.expiresAt ?? time) - (config.oidc?.refreshSkewSeconds ?? 0) * 1000;
      if (idpTokenCache.size >= IDP_TOKEN_CACHE_ENTRIES) idpTokenCache.delete(idpTokenCache.keys().next().value ?? "");
      idpTokenCache.set(sid, { token: result.token, freshUntil });
      return result.token;
    }
    if (result.reason === "none") return undefined;
    if (result.reason === "idp_unavailable") {
      throw new GatewayError("idp_unavailable", { detail: "IdP refresh failed; session kept", retryAfter: 5 });
    }
    if (result.reason === "idp_ended") await this.#revokeSessionTokens(sid, "idp_grant_ended");
    throw new GatewayError("token_revoked", { detail: `OIDC session ${result.reason}`, clearSession: true });
  }

  async #index(session: SessionView, idp: IdpTokens): Promise<void> {
    const issuer = this.#options.config.oidc?.issuer ?? "";
    const until = session.expiresAt;
    const names = [await indexName("idp-sub", issuer, idp.sub)];
    if (idp.sid !== undefined) names.push(await indexName("idp-sid", issuer, idp.sid));
    await Promise.all(names.map((name) => this.#indexCall(name, (stub) => stub.add({ sid: session.sid, until }))));
  }

  async #indexCall<T>(name: string, work: (stub: DurableObjectStub<IdpLogoutIndex>) => Promise<T>): Promise<T> {
    const namespace = this.#options.logoutIndex;
    if (namespace === undefined) {
      throw new GatewayError("misconfigured", { detail: "IDP_LOGOUT_INDEX: OIDC login needs this binding" });
    }
    try {
      return await work(namespace.get(namespace.idFromName(name)));
    } catch (error) {
      throw new GatewayError("session_store_unavailable", { detail: "logout index call failed", cause: error });
    }
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

  /** Is the session alive in its own object right now (strict routes)? Fails closed. */
  isAlive(sid: string): Promise<boolean> {
    const now = this.#options.now();
    return this.#call(sid, (stub) => stub.isAlive({ now }));
  }

  /**
   * List a new session in its subject's index; returns the sessions beyond the cap. When
   * the index cannot be written, the new session is ended: a session the user cannot see
   * (and end) must not exist.
   */
  async #listSession(sub: string, entry: SessionEntry): Promise<string[]> {
    const namespace = this.#options.subjectIndex;
    if (namespace === undefined) return [];
    const { config, now } = this.#options;
    try {
      return await subjectIndex(namespace, sub).add({ entry, max: config.maxSessionsPerUser, now: now() });
    } catch (error) {
      await this.endById(entry.sid, "index_unavailable").catch(() => undefined);
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

  /**
   * Refuse every access token of the session from now on (a `sid` revocation). The entry
   * lives as long as any of those tokens can: the access-token lifetime plus tolerance.
   */
  async #revokeSessionTokens(sid: string, reason: string): Promise<void> {
    const { config, revocations, metrics } = this.#options;
    metrics.record("revocation", "session", reason);
    await revocations.revokeSessions([sid], config.accessTokenTtl + config.clockToleranceSeconds, reason);
  }
}
