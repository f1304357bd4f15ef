/**
 * Mints Portcullis access tokens: RFC 9068 JWT access tokens (`typ: at+jwt`) signed with
 * the active key.
 */
import { CompactSign } from "jose";
import { GatewayError } from "../errors/gateway-error";
import type { IdentityClaims } from "./identity-claims";
import type { SigningKey } from "./key-ring";
import { ACCESS_TOKEN_TYPE } from "./verify-access-token";

export interface AccessTokenSubject {
  readonly sub: string;
  readonly sid: string;
  /** When the session began: seconds since the epoch, to the millisecond. */
  readonly authTime: number;
  readonly scope: readonly string[];
  readonly roles: readonly string[];
  /** Bind the token to this key (`cnf.jkt`): a DPoP proof by the key must come with it. */
  readonly jkt?: string | undefined;
  /** Who the user is and how they signed in (email, acr, amr…), as the login reported it. */
  readonly identity?: IdentityClaims | undefined;
}

export interface IssueOptions {
  readonly issuer: string;
  readonly audience: string;
  readonly ttlSeconds: number;
  /** Milliseconds since the epoch. */
  readonly now: number;
}

export interface IssuedAccessToken {
  readonly token: string;
  readonly jti: string;
  readonly expiresIn: number;
  readonly exp: number;
  /** The key the token is bound to; undefined for a bearer token. */
  readonly jkt: string | undefined;
  /** The claims set signed, as the verifier would read it back (for the request that minted it). */
  readonly payload: Readonly<Record<string, unknown>>;
}

const ENCODER = new TextEncoder();

export async function issueAccessToken(
  subject: AccessTokenSubject,
  signer: SigningKey | undefined,
  options: IssueOptions,
): Promise<IssuedAccessToken> {
  if (signer === undefined) throw new GatewayError("misconfigured", { detail: "SIGNING_KEYS: no signing key" });
  const iat = Math.floor(options.now / 1000);
  const exp = iat + options.ttlSeconds;
  const jti = crypto.randomUUID();
  // The claims set is built here and signed as a compact JWS: the header and claims SignJWT
  // would produce, without its builder re-checking values that are ours by construction.
  const claims: Record<string, unknown> = {
    iss: options.issuer,
    sub: subject.sub,
    aud: options.audience,
    exp,
    iat,
    jti,
    sid: subject.sid,
    auth_time: Math.floor(subject.authTime),
    // The millisecond part, so a revocation of the subject made earlier in the same second
    // does not cover this session (revocation-snapshot.ts coversSession).
    auth_ms: Math.round(subject.authTime * 1000) % 1000,
    client_id: options.audience,
  };
  // Fixed names (identity-claims.ts), none of them one of the protocol's claims above.
  if (subject.identity !== undefined) Object.assign(claims, subject.identity);
  if (subject.scope.length > 0) claims.scope = subject.scope.join(" ");
  if (subject.roles.length > 0) claims.roles = subject.roles;
  if (subject.jkt !== undefined) claims.cnf = { jkt: subject.jkt };
  const token = await new CompactSign(ENCODER.encode(JSON.stringify(claims)))
    .setProtectedHeader({ alg: signer.alg, typ: ACCESS_TOKEN_TYPE, ...(signer.kid ? { kid: signer.kid } : {}) })
    .sign(signer.key);
  return { token, jti, expiresIn: options.ttlSeconds, exp, jkt: subject.jkt, payload: claims };
}
