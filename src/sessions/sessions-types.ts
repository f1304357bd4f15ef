/**
 * The types of the Worker's side of sessions (sessions.ts): what it is made with, what a
 * refresh expects and how the refresh token came, and what it hands out.
 */
import type { GatewayConfig } from "../config/config";
import type { Metrics } from "../metrics/metrics";
import type { Revocations } from "../revocation/revocation-store";
import type { IdentityClaims } from "../tokens/identity-claims";
import type { IssuedAccessToken } from "../tokens/issue-access-token";
import type { KeyRing } from "../tokens/key-ring";
import type { IdpLogoutIndex } from "./idp-logout-index";
import type { SessionObject } from "./session-object";
import type { RevokeResult, SessionView } from "./session-record";
import type { SubjectSessions } from "./subject-sessions";

/** Who a session is for, as the login (credential check or OIDC provider) vouched. */
export interface SessionSubject {
  readonly sub: string;
  readonly scope: readonly string[];
  readonly roles: readonly string[];
  /** Email, acr, amr… as the login reported them; written into every access token. */
  readonly identity?: IdentityClaims | undefined;
}

/** The session a transparent refresh expects, from the expired access token's verified claims. */
export interface ExpectedSession {
  readonly sid: string;
  readonly sub: string;
  /** The session's start (the token's `auth_time` and `auth_ms`), seconds to the millisecond. */
  readonly authTime: number;
}

/** How a refresh token came (sessions.refresh): with a DPoP proof's key, by a navigation, under DPOP_SESSIONS. */
export interface RefreshOptions {
  readonly jkt?: string | undefined;
  readonly navigation?: boolean;
  readonly proofRequired?: boolean;
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
