import { GatewayError } from "../errors/gateway-error";
import { log } from "../log/logger";
import type { IdpTokens } from "../oidc/idp-tokens";
import { hasIdentityClaims } from "../tokens/identity-claims";
import type { IssuedAccessToken } from "../tokens/issue-access-token";
import { issueAccessToken } from "../tokens/issue-access-token";
import type { ClientDescription } from "./device";
import { IdpOperations } from "./idp-operations";
import { newSessionId, refreshTokenId, sessionOfRefreshToken } from "./refresh-token";
import { revokeSessionTokens } from "./revoke-session-tokens";
import { refusedRotation } from "./rotation-refusal";
import { callSession } from "./session-call";
import type { SessionObject } from "./session-object";
import type { RevokeResult, RotateResult, SessionView } from "./session-record";
import type {
  EndedSession,
  ExpectedSession,
  GrantedTokens,
  RefreshOptions,
  SessionSubject,
  SessionsOptions,
} from "./sessions-types";
import { SubjectSessionList } from "./subject-session-list";

// What the gateway and the auth endpoints name from here; the rest from sessions-types.ts.
export type { EndedSession, GrantedTokens } from "./sessions-types";

export class Sessions {
  readonly #options: SessionsOptions;
  #idpOperations: IdpOperations | undefined;
  #subjectList: SubjectSessionList | undefined;

  constructor(options: SessionsOptions) {
    this.#options = options;
  }

  // The OIDC and listing helpers are made on first use: a refresh (the common call) needs
  // neither, and each would cost it allocations and named closures.
  get #idp(): IdpOperations {
    const options = this.#options;
    this.#idpOperations ??= new IdpOperations({
      config: options.config,
      namespace: options.namespace,
      now: options.now,
      logoutIndex: options.logoutIndex,
      endById: (sid, reason) => this.endById(sid, reason),
      revokeSessionTokens: (sid, reason) => this.#revokeSessionTokens(sid, reason),
    });
    return this.#idpOperations;
  }

  get #list(): SubjectSessionList {
    const options = this.#options;
    this.#subjectList ??= new SubjectSessionList({
      config: options.config,
      revocations: options.revocations,
      sessionObjects: options.namespace,
      now: options.now,
      subjectIndex: options.subjectIndex,
      endById: (sid, reason) => this.endById(sid, reason),
    });
    return this.#subjectList;
  }

  /** One call to the session's object, retried when the platform marks the error retryable. */
  #call<T>(sid: string, work: (stub: DurableObjectStub<SessionObject>) => Promise<T>): Promise<T> {
    return callSession(this.#options.namespace, sid, work);
  }

  async #mint(session: SessionView, now: number, jkt: string | undefined): Promise<IssuedAccessToken> {
    const { config, keys } = this.#options;
    return issueAccessToken(
      {
        sub: session.sub,
        sid: session.sid,
        authTime: session.createdAt / 1000,
        scope: session.scope,
        roles: session.roles,
        jkt,
        identity: session.identity,
      },
      keys.signer,
      { issuer: config.issuer, audience: config.audience, ttlSeconds: config.accessTokenTtl, now },
    );
  }

  /**
   * Begin a session for a subject the credential check (or the OIDC provider, with `idp`)
   * vouched for; with `jkt`, bound to that DPoP key.
   */
  async start(
    subject: SessionSubject,
    client: ClientDescription,
    { idp, jkt }: { idp?: IdpTokens; jkt?: string | undefined } = {},
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
        sub: subject.sub,
        scope: subject.scope,
        roles: subject.roles,
        ...(hasIdentityClaims(subject.identity) ? { identity: subject.identity } : {}),
        now: time,
        refreshTtlSeconds: config.refreshTokenTtl,
        idleTtlSeconds: config.sessionIdleTtl,
        ...(idp ? { idp } : {}),
        ...(jkt !== undefined ? { jkt } : {}),
      }),
    );
    if (idp !== undefined) await this.#idp.index(session, idp);
    const method = idp === undefined ? "password" : "oidc";
    const beyondCap = await this.#list.add(subject.sub, {
      sid,
      createdAt: time,
      lastUsedAt: time,
      expiresAt: session.expiresAt,
      idleTimeoutMs: config.sessionIdleTtl * 1000,
      method,
      ...(idp !== undefined ? { provider: idp.provider ?? "oidc" } : {}),
      ...client,
    });
    // Beyond the cap: the index ends their objects in the background; their tokens are refused now.
    if (beyondCap.length > 0) await revokeSessionTokens(this.#options, beyondCap, "session_cap");
    this.#options.metrics.record("login", method);
    const accessToken = await this.#mint(session, time, jkt);
    return { accessToken, refreshToken, refreshMaxAge: config.refreshTokenTtl, session, rotated: true };
  }

  /**
   * Exchange a refresh token for new tokens. `expected`, when given (a transparent
   * refresh: the verified claims of the expired access token), names the session the
   * refresh token must belong to; its subject's revocation is then read from KV while the
   * session object rotates, instead of after it. `jkt`: the key of the DPoP proof that came
   * with the refresh token; a bound session needs its own, and the new access token is
   * bound to it. `navigation`: a browser navigation, which cannot bring a proof: a bound
   * session refuses it but does not end. `proofRequired` (DPOP_SESSIONS = "required"): an
   * unbound session is not refreshed without a proof (a bound one ends, as always).
   */
  async refresh(
    refreshToken: string,
    expected?: ExpectedSession,
    { jkt, navigation, proofRequired }: RefreshOptions = {},
  ): Promise<GrantedTokens> {
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
    const earlySubjectCheck = expected && this.#sessionRevoked(expected.sub, expected.authTime, sid);
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
          jkt,
          navigation,
          proofRequired,
        })) as RotateResult,
    );
    if (!result.ok) {
      return refusedRotation(result, {
        sid,
        requestId,
        navigation,
        metrics: this.#options.metrics,
        revokeSessionTokens: (reason) => this.#revokeSessionTokens(sid, reason),
      });
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
    // "Log out everywhere" (a subject-wide revocation) also ends refreshing, and so does a
    // revocation of the session whose object the subject's index has yet to end (a login
    // beyond the cap). The early read answers when it asked about the same subject and start.
    const { sub, createdAt } = result.session;
    const authTime = createdAt / 1000;
    const sameStart = expected !== undefined && Math.round(expected.authTime * 1000) === createdAt;
    const sameQuestion = earlySubjectCheck && expected.sub === sub && sameStart;
    if (await (sameQuestion ? earlySubjectCheck : this.#sessionRevoked(sub, authTime, sid))) {
      await this.endById(sid, "subject_revoked");
      throw new GatewayError("grant_invalid", { detail: "subject revoked", clearSession: true });
    }
    const accessToken = await this.#mint(result.session, time, jkt);
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
  endByIdp(issuer: string, match: { idpSid?: string; sub?: string }, reason: string): Promise<number> {
    return this.#idp.endByIdp(issuer, match, reason);
  }

  /**
   * True the first time only, strongly consistent: a logout token's `jti`, or a login's
   * `state` (so a replayed callback never reaches the provider). Kept until `until`.
   */
  claimOnce(kind: "jti" | "state", issuer: string, value: string, until: number): Promise<boolean> {
    return this.#idp.claimOnce(kind, issuer, value, until);
  }

  /** The provider's access token of an OIDC session, fresh; undefined for a session without one. */
  idpAccessToken(sid: string): Promise<string | undefined> {
    return this.#idp.accessToken(sid);
  }

  /** Each subject's list of sessions: pages of it, and ending all of them but one. */
  get index(): SubjectSessionList {
    return this.#list;
  }

  /**
   * Is the session alive in its own object right now (strict routes)? Fails closed. With a
   * DPoP proof's jti, "replayed" when the session's requests brought it before.
   */
  isAlive(sid: string, proof?: { jti: string; until: number }): Promise<boolean | "replayed"> {
    const now = this.#options.now();
    return this.#call(
      sid,
      async (stub): Promise<boolean | "replayed"> => stub.isAlive(proof ? { now, proof } : { now }),
    );
  }

  /** Is the session revoked at the edge, through its subject or its own id? */
  async #sessionRevoked(sub: string, authTime: number, sid: string): Promise<boolean> {
    return (await this.#options.revocations.revokedBecause({ jti: undefined, sid, sub, authTime })) !== undefined;
  }

  /** Refuse every access token of the session from now on (revoke-session-tokens.ts). */
  #revokeSessionTokens(sid: string, reason: string): Promise<void> {
    return revokeSessionTokens(this.#options, sid, reason);
  }
}
