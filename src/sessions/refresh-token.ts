/**
 * Refresh tokens: opaque, high-entropy, single-use strings `<sid>.<secret>`.
 *
 * The session id routes the token to its Durable Object; the 256-bit secret proves
 * possession. Only a SHA-256 hash of the whole token is ever stored.
 */
import { base64url } from "jose";

const TOKEN = /^([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;
const SESSION_ID = /^[A-Za-z0-9_-]{22}$/;

function randomBase64url(bytes: number): string {
  return base64url.encode(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** A new session id: 128 random bits. */
export function newSessionId(): string {
  return randomBase64url(16);
}

export function isSessionId(value: string): boolean {
  return SESSION_ID.test(value);
}

/** A new refresh token for a session: 256 random bits after the session id. */
export function newRefreshToken(sid: string): string {
  return `${sid}.${randomBase64url(32)}`;
}

/** The session a refresh token belongs to, or undefined when it is not one of ours. */
export function sessionOfRefreshToken(token: string): string | undefined {
  return TOKEN.exec(token)?.[1];
}

export async function hashRefreshToken(token: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token));
  return base64url.encode(new Uint8Array(digest));
}

/** The id under which a rotated refresh token is recorded in the revocation list. */
export function refreshTokenId(hash: string): string {
  return `rt.${hash.slice(0, 32)}`;
}
