/**
 * What a session's Durable Object (session-object.ts) stores and answers: the record, the
 * results of its calls, and the small pure reads of a record. Apart from the class so the
 * Worker side (sessions.ts) gets these types without the class's module, and so the
 * object's module is the operations alone.
 */
import type { IdpTokens } from "../oidc/idp-tokens";
import type { IdentityClaims } from "../tokens/identity-claims";
import type { IdpState } from "./idp-session";
import type { Sealed } from "./successor-seal";

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
  /** Provider tokens of an OIDC session (sealed); undefined for a credential-check login. */
  idp?: IdpState | undefined;
  /**
   * The DPoP key the session is bound to (RFC 7638 thumbprint): every refresh must bring a
   * proof by it. Set at login, or by the first refresh that brings a proof; never changed.
   */
  jkt?: string | undefined;
  /** What the login reported about the user (email, acr, amr…), written into every access token. */
  readonly identity?: IdentityClaims | undefined;
}

export interface CreateSessionInput {
  readonly sid: string;
  readonly sub: string;
  readonly scope: readonly string[];
  readonly roles: readonly string[];
  readonly now: number;
  readonly refreshTtlSeconds: number;
  readonly idleTtlSeconds: number;
  /** The provider's tokens, for a login through OIDC; sealed before they are stored. */
  readonly idp?: IdpTokens;
  /** Bind the session to this DPoP key (the login brought a proof by it). */
  readonly jkt?: string;
  readonly identity?: IdentityClaims;
}

/** A refresh token to exchange (session-object.ts `rotate`), and how it came. */
export interface RotateInput {
  readonly token: string;
  readonly now: number;
  readonly graceSeconds: number;
  readonly wantIdpToken?: boolean;
  /** The key of the DPoP proof that came with it; a bound session needs its own key's. */
  readonly jkt?: string | undefined;
  /** A browser navigation: it cannot bring a proof, so a bound session refuses it without ending. */
  readonly navigation?: boolean | undefined;
  /** DPOP_SESSIONS = "required": no rotation without a proof, bound session or not. */
  readonly proofRequired?: boolean | undefined;
}

/**
 * Whether a refresh token may rotate as it came, by the session's DPoP key (`jkt`):
 * `key_mismatch` for a bound session's token without a proof by its key (theft, the
 * session ends), `key_required` where a proof is needed but its absence proves nothing (a
 * navigation; DPOP_SESSIONS = "required"), undefined when it may.
 */
export function keyCheck(record: SessionRecord, input: RotateInput): "key_mismatch" | "key_required" | undefined {
  if (record.jkt !== undefined && input.jkt === undefined && input.navigation) return "key_required";
  if (record.jkt !== undefined && input.jkt !== record.jkt) return "key_mismatch";
  if (input.jkt === undefined && input.proofRequired) return "key_required";
  return undefined;
}

/** What callers learn about a session (never its token hashes). */
export type SessionView = Pick<
  SessionRecord,
  "sid" | "sub" | "scope" | "roles" | "createdAt" | "expiresAt" | "identity"
>;

export type RotateResult =
  | {
      readonly ok: true;
      readonly refreshToken: string;
      /** False when this call lost a race and got the winner's token within the grace window. */
      readonly rotated: boolean;
      /** Hash of the token presented, so the caller can list it as revoked. */
      readonly replacedHash: string;
      readonly session: SessionView;
      /** The provider's current access token, when asked for and the session has one. */
      readonly idpAccessToken?: string;
    }
  | {
      readonly ok: false;
      /**
       * `idp_ended`: the provider refused our refresh token; `idp_unavailable`: it could not be
       * asked; `key_mismatch`: a bound session's token came without a proof by its key (the
       * session is ended, as for reuse); `key_required`: the same from a browser navigation,
       * which cannot bring a proof (refused, the session kept).
       */
      readonly reason:
        | "unknown"
        | "expired"
        | "revoked"
        | "reused"
        | "key_mismatch"
        | "key_required"
        | "idp_ended"
        | "idp_unavailable";
      readonly session: SessionView | undefined;
    };

export interface RevokeResult {
  readonly revoked: boolean;
  readonly session: SessionView | undefined;
  /** For RP-initiated logout at the provider, when this was an OIDC session. */
  readonly idpLogout?: {
    /** The login provider's id (absent: "oidc"). */
    readonly provider?: string;
    readonly idToken: string | undefined;
    readonly sub: string;
    readonly refreshToken?: string;
    /** GitHub's sessions only: the token logout revokes at GitHub. */
    readonly accessToken?: string;
  };
}

export type IdpAccessTokenResult =
  | { readonly ok: true; readonly token: string; readonly expiresAt: number | undefined }
  | { readonly ok: false; readonly reason: "none" | "ended" | "idp_ended" | "idp_unavailable" };

/** Did this session ever issue the token with this hash? */
export function issued(record: SessionRecord, hash: string): boolean {
  return hash === record.currentHash || hash === record.previousHash || record.retiredHashes.includes(hash);
}

export function view(record: SessionRecord): SessionView {
  const { sid, sub, scope, roles, createdAt, expiresAt, identity } = record;
  return { sid, sub, scope, roles, createdAt, expiresAt, identity };
}
