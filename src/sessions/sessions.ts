/**
 * The Worker's side of sessions: starts them, rotates refresh tokens through the
 * session's Durable Object, and turns the outcome into tokens or a refusal.
 *
 * A refused refresh token (`grant_invalid`) is dead: the answer clears the cookies.
 * Reuse of a rotated refresh token revokes the session in the object *and* records the
 * session id in KV, so every access token of the session is refused from then on.
 */
import type { GatewayConfig } from "../config/config";
import { GatewayError } from "../errors/gateway-error";
import { log } from "../log/logger";
import type { RevocationStore } from "../revocation/revocation-store";
import type { IssuedAccessToken } from "../tokens/issue-access-token";
import { issueAccessToken } from "../tokens/issue-access-token";
import type { KeyRing } from "../tokens/key-ring";
import { newSessionId, refreshTokenId, sessionOfRefreshToken } from "./refresh-token";
import type { RevokeResult, RotateResult, SessionObject, SessionView } from "./session-object";

export interface GrantedTokens {
  readonly accessToken: IssuedAccessToken;
  readonly refreshToken: string;
  /** Seconds the refresh cookie should live. */
  readonly refreshMaxAge: number;
  readonly session: SessionView;
  /** True when this call performed the rotation (false for a racer given the winner's result). */
  readonly rotated: boolean;
}

export interface SessionsOptions {
  readonly config: GatewayConfig;
  readonly namespace: DurableObjectNamespace<SessionObject>;
  readonly revocations: RevocationStore;
  readonly keys: KeyRing;
  readonly now: () => number;
  readonly requestId: string;
}

export class Sessions {
  readonly #options: SessionsOptions;

  constructor(options: SessionsOptions) {
    this.#options = options;
  }

  #stub(sid: string): DurableObjectStub<SessionObject> {
    const { namespace } = this.#options;
    return namespace.get(namespace.idFromName(sid));
  }

  async #call<T>(sid: string, work: (stub: DurableObjectStub<SessionObject>) => Promise<T>): Promise<T> {
    try {
      return await work(this.#stub(sid));
    } catch (error) {
      throw new GatewayError("session_store_unavailable", { detail: "session object call failed", cause: error });
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

  /** Begin a session for a subject the credential check vouched for. */
  async start(subject: { sub: string; scope: readonly string[]; roles: readonly string[] }): Promise<GrantedTokens> {
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
      }),
    );
    const accessToken = await this.#mint(session, time);
    return { accessToken, refreshToken, refreshMaxAge: config.refreshTokenTtl, session, rotated: true };
  }

  /**
   * Exchange a refresh token for new tokens. `expectedSid`, when given, must match (a
   * transparent refresh only renews the session the expired access token belonged to).
   */
  async refresh(refreshToken: string, expectedSid?: string): Promise<GrantedTokens> {
    const { config, revocations, now, requestId } = this.#options;
    const sid = sessionOfRefreshToken(refreshToken);
    if (sid === undefined)
      throw new GatewayError("grant_invalid", { detail: "not a Portcullis refresh token", clearSession: true });
    if (expectedSid !== undefined && sid !== expectedSid) {
      throw new GatewayError("grant_invalid", {
        detail: "refresh token belongs to another session",
        clearSession: true,
      });
    }
    const time = now();
    const result = await this.#call(
      sid,
      async (stub): Promise<RotateResult> =>
        (await stub.rotate({
          token: refreshToken,
          now: time,
          graceSeconds: config.refreshGraceSeconds,
        })) as RotateResult,
    );
    if (!result.ok) {
      if (result.reason === "reused") {
        log.security("refresh_token_reuse", { requestId, sid, sub: result.session?.sub });
        await this.#revokeSessionTokens(sid, "refresh_token_reuse");
      }
      throw new GatewayError("grant_invalid", { detail: `refresh token ${result.reason}`, clearSession: true });
    }
    if (result.rotated) {
      // The replaced token's id goes on the revocation list before anything is forwarded.
      const remaining = Math.ceil((result.session.expiresAt - time) / 1000);
      await revocations.revokeToken(refreshTokenId(result.replacedHash), remaining, "rotated");
      log.info("session_rotated", { requestId, sid });
    }
    // "Log out everywhere" (a subject-wide revocation) also ends refreshing.
    if (await revocations.isSubjectRevoked(result.session.sub, Math.floor(result.session.createdAt / 1000))) {
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
    };
  }

  /** End the session a refresh token belongs to (only if the token is really its). */
  async endByRefreshToken(refreshToken: string, reason: string): Promise<SessionView | undefined> {
    const sid = sessionOfRefreshToken(refreshToken);
    if (sid === undefined) return undefined;
    const result = await this.#call(
      sid,
      async (stub): Promise<RevokeResult> =>
        (await stub.revoke({ token: refreshToken, reason, now: this.#options.now() })) as RevokeResult,
    );
    if (!result.revoked) return undefined;
    await this.#revokeSessionTokens(sid, reason);
    return result.session;
  }

  /** End a session by id (the access token's `sid`, already verified). */
  async endById(sid: string, reason: string): Promise<void> {
    await this.#call(sid, (stub) => stub.revoke({ reason, now: this.#options.now() }));
    await this.#revokeSessionTokens(sid, reason);
  }

  /**
   * Refuse every access token of the session from now on (KV `sid:` entry). The entry
   * lives as long as any of those tokens can: the access-token lifetime plus tolerance.
   */
  #revokeSessionTokens(sid: string, reason: string): Promise<void> {
    const { config, revocations } = this.#options;
    return revocations.revokeSession(sid, config.accessTokenTtl + config.clockToleranceSeconds, reason);
  }
}
