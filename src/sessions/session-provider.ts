/**
 * A session object's side of its login provider: which provider's settings (and sealing
 * secret) its `idp` tokens belong to, opening them, and bringing them up to date inside
 * the object's serialization (session-object.ts). Apart from the object so its lifecycle
 * reads without the provider's concerns.
 */
import type { OidcConfig } from "../config/config";
import type { ConfigEnv } from "../config/env";
import { configFor } from "../config/parse-config";
import { loginProviderById } from "../config/parse-login-providers";
import { log } from "../log/logger";
import type { IdpTokens } from "../oidc/idp-tokens";
import { freshIdpTokens, type IdpState, needsRefresh, openIdpTokens, sealIdpTokens } from "./idp-session";
import type { SessionRecord } from "./session-record";

export type IdpRefresh =
  | { readonly ok: true; readonly accessToken: string | undefined }
  | { readonly ok: false; readonly reason: "idp_ended" | "idp_unavailable" };

/** What the object lends: its storage of the record, and the ending of the session. */
export interface SessionHost {
  save(record: SessionRecord): Promise<void>;
  end(record: SessionRecord, now: number, reason: string): Promise<void>;
}

export class SessionProvider {
  readonly #env: ConfigEnv;
  /**
   * When the last provider refresh failed. Requests that began before that (queued behind
   * it) fail fast instead of each waiting on a hanging provider in turn; later ones try again.
   */
  #failedAt = Number.NEGATIVE_INFINITY;

  constructor(env: ConfigEnv) {
    this.#env = env;
  }

  /**
   * The settings of the provider a session's tokens came from (IdpState.provider; absent:
   * "oidc"); undefined once that provider is no longer configured.
   */
  of(id: string | undefined): OidcConfig | undefined {
    return loginProviderById(configFor(this.#env).loginProviders, id);
  }

  /** The provider tokens of a session being started, sealed: the login just came from that provider. */
  seal(sid: string, tokens: IdpTokens): Promise<IdpState> {
    const provider = this.of(tokens.provider);
    if (provider === undefined) throw new Error(`a session of provider ${tokens.provider}, which is not configured`);
    return sealIdpTokens(provider, sid, tokens);
  }

  /** A session's provider tokens, opened; undefined when they do not open or the provider is gone. */
  async open(sid: string, idp: IdpState): Promise<{ provider: OidcConfig; tokens: IdpTokens } | undefined> {
    const provider = this.of(idp.provider);
    const tokens = provider === undefined ? undefined : await openIdpTokens(provider, sid, idp);
    return provider === undefined || tokens === undefined ? undefined : { provider, tokens };
  }

  /**
   * Bring the provider's tokens up to date (refresh when about to expire). On an ended
   * grant, or a provider no longer configured, the session is ended here; on an outage
   * nothing changes.
   */
  async refresh(record: SessionRecord, now: number, host: SessionHost): Promise<IdpRefresh> {
    if (record.idp === undefined) return { ok: true, accessToken: undefined };
    const refreshIfStale = now >= this.#failedAt;
    const provider = this.of(record.idp.provider);
    if (provider === undefined) {
      // Taken out of the settings: its sessions can be neither refreshed nor unsealed any more.
      log.warn("idp_provider_removed", { sid: record.sid, provider: record.idp.provider ?? "oidc" });
      await host.end(record, now, "idp_provider_removed");
      return { ok: false, reason: "idp_ended" };
    }
    const fresh = await freshIdpTokens(provider, record.sid, record.idp, now, { refreshIfStale });
    if (fresh.ok && (fresh.refreshed || fresh.resealed)) {
      // Refreshed, or sealed anew with the current secret (a sealing-secret rotation).
      if (fresh.resealed) log.info("idp_tokens_resealed", { sid: record.sid });
      record.idp = fresh.state;
      await host.save(record);
    }
    if (fresh.ok && !fresh.refreshed && !refreshIfStale && needsRefresh(provider, record.idp, now)) {
      return { ok: false, reason: "idp_unavailable" };
    }
    if (!fresh.ok) {
      log.warn("idp_refresh_failed", { sid: record.sid, reason: fresh.reason, detail: fresh.detail });
      if (fresh.reason === "unavailable") {
        this.#failedAt = Date.now();
        return { ok: false, reason: "idp_unavailable" };
      }
      await host.end(record, now, "idp_grant_ended");
      return { ok: false, reason: "idp_ended" };
    }
    return { ok: true, accessToken: fresh.tokens.accessToken };
  }
}
