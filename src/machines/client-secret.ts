/**
 * Service-client identifiers and secrets: made from the runtime's random source, stored
 * only as a hash, compared in constant time.
 *
 * A secret is 256 random bits. For a secret of that much entropy a single SHA-256 is the
 * right hash: a slow password hash (Argon2, bcrypt) exists to make guessing a *low*-entropy
 * password expensive, and no guessing reaches 2^256 (OWASP Password Storage Cheat Sheet;
 * the same reasoning as OWASP's guidance on API keys). A fast hash also keeps an exchange
 * cheap on the Worker's CPU budget.
 */

/** The prefix of every secret, so secret scanners (and people) recognise a leaked one. */
export const CLIENT_SECRET_PREFIX = "pcs_";

const CLIENT_ID = /^[0-9a-f]{32}$/;
const SECRET = /^pcs_[A-Za-z0-9_-]{43}$/;

function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** A new client id: 128 random bits as 32 lower-case hex digits (safe in URLs, headers and Basic). */
export function newClientId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Is this the shape of a client id this gateway hands out? */
export function isClientId(value: unknown): value is string {
  return typeof value === "string" && CLIENT_ID.test(value);
}

/** A new client secret: `pcs_` and 256 random bits, base64url. Shown once, never stored. */
export function newClientSecret(): string {
  return CLIENT_SECRET_PREFIX + base64url(crypto.getRandomValues(new Uint8Array(32)));
}

/** Could this be a secret this gateway handed out? (Anything else is refused without hashing.) */
export function isClientSecretShape(value: string): boolean {
  return SECRET.test(value);
}

/** The stored form of a secret: SHA-256, base64url. */
export async function hashClientSecret(secret: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(secret));
  return base64url(new Uint8Array(digest));
}

const DECODER_ALPHABET = /^[A-Za-z0-9_-]{43}$/;

function bytesOfHash(hash: string): Uint8Array {
  const padded = `${hash.replace(/-/g, "+").replace(/_/g, "/")}=`;
  return Uint8Array.from(atob(padded), (char) => char.charCodeAt(0));
}

/**
 * Is `presentedHash` equal to `storedHash`? Constant time in the bytes compared; both are
 * SHA-256 digests of the same length, so the length says nothing either.
 */
export function hashesEqual(presentedHash: string, storedHash: string | null | undefined): boolean {
  if (storedHash == null || !DECODER_ALPHABET.test(storedHash) || !DECODER_ALPHABET.test(presentedHash)) return false;
  const subtle = crypto.subtle as SubtleCrypto & { timingSafeEqual(a: ArrayBufferView, b: ArrayBufferView): boolean };
  return subtle.timingSafeEqual(bytesOfHash(presentedHash), bytesOfHash(storedHash));
}
