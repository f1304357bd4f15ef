/**
 * The OpenID Connect side of sessions: the IDP_LOGOUT_INDEX entries by which a back-channel
 * logout finds a provider's sessions, the one-time claims (a logout token's `jti`, a login's
 * `state`), and a session's provider access token with its per-isolate cache. Apart from
 * Sessions (which composes it) so the session lifecycle reads without the provider's concerns.
 */
import type { GatewayConfig } from "../config/config";
import { loginProviderById } from "../config/parse-login-providers";
import { GatewayError } from "../errors/gateway-error";
import type { IdpTokens } from "../oidc/idp-tokens";
import type { IdpLogoutIndex } from "./idp-logout-index";
import { indexName } from "./idp-logout-index-name";
import { callSession } from "./session-call";
import type { SessionObject } from "./session-object";
import type { IdpAccessTokenResult, SessionView } from "./session-record";

export interface IdpOperationsOptions {
  readonly config: GatewayConfig;
  readonly namespace: DurableObjectNamespace<SessionObject>;
  readonly now: () => number;
  /** Needed for OIDC sessions (back-channel logout); see idp-logout-index.ts. */
  readonly logoutIndex?: DurableObjectNamespace<IdpLogoutIndex>;
  /** End a session by id (Sessions.endById); resolves to undefined when there was none. */
  readonly endById: (sid: string, reason: string) => Promise<unknown>;
  /** Refuse every access token of the session (revoke-session-tokens.ts). */
  readonly revokeSessionTokens: (sid: string, reason: string) => Promise<void>;
}

/** The provider access tokens this isolate handed upstream lately, by session id (bounded). */
const idpTokenCache = new Map<string, { token: string; freshUntil: number }>();
const IDP_TOKEN_CACHE_ENTRIES = 1_000;

export class IdpOperations {
  readonly #options: IdpOperationsOptions;

  constructor(options: IdpOperationsOptions) {
    this.#options = options;
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
        const session = await this.#options.endById(sid, reason);
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
  async accessToken(sid: string): Promise<string | undefined> {
    const { config, namespace, now } = this.#options;
    const time = now();
    const cached = idpTokenCache.get(sid);
    if (cached !== undefined && cached.freshUntil > time) return cached.token;
    const result = await callSession(
      namespace,
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
    if (result.reason === "idp_ended") await this.#options.revokeSessionTokens(sid, "idp_grant_ended");
    throw new GatewayError("token_revoked", { detail: `OIDC session ${result.reason}`, clearSession: true });
  }

  /**
   * List a new OIDC session under the provider's sub (and sid, when given) for back-channel
   * logout, keyed by its provider's issuer. GitHub has no back-channel logout: not listed.
   */
  async index(session: SessionView, idp: IdpTokens): Promise<void> {
    const provider = loginProviderById(this.#options.config.loginProviders, idp.provider);
    if (provider === undefined || provider.kind !== "oidc") return;
    const { issuer } = provider;
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
}
