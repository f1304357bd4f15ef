/**
 * The claims of an access token as the gateway uses them, checked for type and size.
 * RFC 9068 shape: `scope` is a space-separated string, `roles` a list of strings.
 */
import type { JWTPayload } from "jose";

export interface AccessTokenClaims {
  readonly sub: string;
  readonly iss: string;
  readonly exp: number;
  readonly iat: number;
  readonly jti: string | undefined;
  readonly sid: string | undefined;
  /**
   * When the session began: seconds, to the millisecond with `auth_ms` (the gateway's own
   * tokens); falls back to `iat` for tokens without `auth_time`.
   */
  readonly authTime: number;
  readonly scopes: ReadonlySet<string>;
  readonly roles: ReadonlySet<string>;
  /**
   * The thumbprint of the key the token is bound to (`cnf.jkt`, RFC 9449 §6): it is only
   * good with a DPoP proof by that key. Undefined for a bearer token.
   */
  readonly jkt: string | undefined;
  /**
   * The id (TRUSTED_ISSUERS) of the issuer whose keys verified the token; undefined for the
   * gateway's own tokens (TOKEN_ISSUER). Routes accept another issuer's tokens only where
   * their rule names it (`issuers`).
   */
  readonly trustedIssuer: string | undefined;
  /**
   * The verified payload, every claim as the issuer wrote it: what route conditions
   * (policy/check-condition.ts) read and UPSTREAM_ASSERTION_CLAIMS copies from. The
   * verifier's own object, kept by reference (no copy), so it costs nothing on routes
   * without conditions. Read it, never change it.
   */
  readonly payload: Readonly<Record<string, unknown>>;
}

export { SERVICE_SUBJECT_PREFIX } from "../schema/subject-prefixes";

const MAX_ID_LENGTH = 256;
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;
// sub, sid and roles travel upstream in X-Auth-* headers. Headers drop leading/trailing
// whitespace (" admin" would arrive as "admin"), refuse control characters (a 500) and
// carry non-ASCII as mangled bytes, so only visible ASCII (inner spaces allowed) is an
// identifier here, as OIDC requires of `sub`. Roles are space-joined, so none in a role.
const IDENTIFIER = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;
const ROLE = /^[\x21-\x7e]+$/;

/** A subject, session or token id that can travel upstream in a header unchanged. */
export function isIdentifier(value: unknown): value is string {
  return typeof value === "string" && value.length <= MAX_ID_LENGTH && IDENTIFIER.test(value);
}

/** An RFC 6749 scope-token. */
export function isScopeToken(value: unknown): value is string {
  return typeof value === "string" && value.length <= MAX_ID_LENGTH && SCOPE_TOKEN.test(value);
}

/** A role name: visible ASCII without spaces (roles are space-joined upstream). */
export function isRole(value: unknown): value is string {
  return typeof value === "string" && value.length <= MAX_ID_LENGTH && ROLE.test(value);
}

function optionalId(payload: JWTPayload, name: string): string | undefined | null {
  const value = payload[name];
  if (value === undefined) return undefined;
  return isIdentifier(value) ? value : null;
}

/** A SHA-256 JWK thumbprint, base64url (RFC 7638). */
const THUMBPRINT = /^[A-Za-z0-9_-]{43}$/;

/**
 * The key a token is bound to: `cnf` holding `jkt` alone. A token bound some other way
 * (`x5t#S256`, mutual TLS) cannot have its binding checked here, so it is refused (null)
 * rather than taken as a bearer token.
 */
function boundKey(payload: JWTPayload): string | undefined | null {
  const { cnf } = payload;
  if (cnf === undefined) return undefined;
  if (typeof cnf !== "object" || cnf === null || Array.isArray(cnf)) return null;
  const members = Object.keys(cnf);
  const { jkt } = cnf as { jkt?: unknown };
  return members.length === 1 && typeof jkt === "string" && THUMBPRINT.test(jkt) ? jkt : null;
}

/** Narrow a verified payload to the claims we rely on, or undefined if any is ill-typed. */
export function readClaims(payload: JWTPayload): AccessTokenClaims | undefined {
  const { sub, iss, exp, iat } = payload;
  if (!isIdentifier(sub)) return undefined;
  if (typeof iss !== "string") return undefined;
  if (typeof exp !== "number" || typeof iat !== "number") return undefined;
  const jti = optionalId(payload, "jti");
  const sid = optionalId(payload, "sid");
  const jkt = boundKey(payload);
  if (jti === null || sid === null || jkt === null) return undefined;

  const seconds = payload.auth_time ?? iat;
  if (typeof seconds !== "number" || !Number.isFinite(seconds)) return undefined;
  // Our own tokens carry the session start's milliseconds; anything else there is ill-typed.
  const ms = payload.auth_ms ?? 0;
  if (typeof ms !== "number" || !Number.isInteger(ms) || ms < 0 || ms > 999) return undefined;
  const authTime = ms === 0 ? seconds : seconds + ms / 1000;

  let scopes: string[] = [];
  if (payload.scope !== undefined) {
    if (typeof payload.scope !== "string") return undefined;
    scopes = payload.scope.split(" ").filter((item) => item !== "");
    if (scopes.some((item) => !SCOPE_TOKEN.test(item))) return undefined;
  }
  let roles: string[] = [];
  if (payload.roles !== undefined) {
    if (!Array.isArray(payload.roles) || payload.roles.some((role) => typeof role !== "string" || !ROLE.test(role))) {
      return undefined;
    }
    roles = payload.roles as string[];
  }
  return Object.freeze({
    sub,
    iss,
    exp,
    iat,
    jti,
    sid,
    authTime,
    scopes: new Set(scopes),
    roles: new Set(roles),
    jkt,
    trustedIssuer: undefined,
    payload,
  });
}

/** The claims of a token the gateway just minted for a session (no need to re-verify it). */
export function claimsOfIssued(granted: {
  accessToken: {
    jti: string;
    exp: number;
    expiresIn: number;
    jkt?: string | undefined;
    payload: Readonly<Record<string, unknown>>;
  };
  session: { sid: string; sub: string; scope: readonly string[]; roles: readonly string[]; createdAt: number };
}): AccessTokenClaims {
  const { accessToken, session } = granted;
  const iat = accessToken.exp - accessToken.expiresIn;
  const authTime = session.createdAt / 1000;
  return Object.freeze({
    sub: session.sub,
    iss: String(accessToken.payload.iss),
    exp: accessToken.exp,
    iat,
    jti: accessToken.jti,
    sid: session.sid,
    authTime,
    scopes: new Set(session.scope),
    roles: new Set(session.roles),
    jkt: accessToken.jkt,
    trustedIssuer: undefined,
    // What was signed, so conditions judge the new token exactly as they would on its next use.
    payload: accessToken.payload,
  });
}
