/**
 * What an operator may ask of the service-client endpoints, checked before anything is
 * stored, and the scope a client may ask for at the token endpoint. Pure functions: each
 * returns the checked value or a reason (a string for the log and the operator's 400).
 */
import { type ClientKey, checkClientKey } from "./client-key";
import type { Checked } from "./service-client-record";

/** The longest a client may live: a year and a day. A client without an expiry is refused on purpose. */
export const MAX_CLIENT_LIFETIME_SECONDS = 366 * 24 * 3600;
/** The longest overlap a rotation may leave the previous secret working: 30 days. */
export const MAX_OVERLAP_SECONDS = 30 * 24 * 3600;
/** Scopes one client may hold. */
export const MAX_CLIENT_SCOPES = 50;
/** The longest a client's name may be. */
export const MAX_CLIENT_NAME_LENGTH = 100;

const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]{1,256}$/;
// Printable, no control characters (the name is shown in lists and log lines).
const NAME = /^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}]+$/u;

export type { Checked } from "./service-client-record";

const refuse = (reason: string): { ok: false; reason: string } => ({ ok: false, reason });

export interface NewClientRequest {
  readonly name: string;
  readonly scopes: readonly string[];
  readonly expiresInSeconds: number;
  /** A `private_key_jwt` client's public key (RFC 7523); absent for a client with a secret. */
  readonly key?: ClientKey;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isWholeSeconds(value: unknown, min: number, max: number): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= min && value <= max;
}

/**
 * `{ name, scopes, expires_in, jwk? }`: a name, RFC 6749 scope tokens, seconds until it
 * expires, and for a `private_key_jwt` client its public key.
 */
export function checkNewClient(body: unknown): Checked<NewClientRequest> {
  if (!isRecord(body)) return refuse("the body must be a JSON object");
  const { name, scopes, expires_in: expiresIn } = body;
  for (const key of Object.keys(body)) {
    if (key !== "name" && key !== "scopes" && key !== "expires_in" && key !== "jwk") {
      return refuse(`unknown field "${key}"`);
    }
  }
  if (typeof name !== "string" || name.trim() === "" || name.length > MAX_CLIENT_NAME_LENGTH || !NAME.test(name)) {
    return refuse(`"name" must be 1–${MAX_CLIENT_NAME_LENGTH} printable characters`);
  }
  if (!Array.isArray(scopes) || scopes.length > MAX_CLIENT_SCOPES) {
    return refuse(`"scopes" must be a list of at most ${MAX_CLIENT_SCOPES} scope tokens`);
  }
  if (!scopes.every((scope): scope is string => typeof scope === "string" && SCOPE_TOKEN.test(scope))) {
    return refuse('"scopes" must hold RFC 6749 scope tokens (no spaces, quotes or backslashes)');
  }
  if (!isWholeSeconds(expiresIn, 1, MAX_CLIENT_LIFETIME_SECONDS)) {
    return refuse(`"expires_in" must be whole seconds, 1–${MAX_CLIENT_LIFETIME_SECONDS}`);
  }
  const value = { name, scopes: [...new Set(scopes)], expiresInSeconds: expiresIn };
  if (body.jwk === undefined) return { ok: true, value };
  const key = checkClientKey(body.jwk);
  return key.ok ? { ok: true, value: { ...value, key: key.value } } : key;
}

export interface RotationRequest {
  readonly overlapSeconds: number;
  /** A `private_key_jwt` client's new public key; absent for a client with a secret. */
  readonly key?: ClientKey;
}

/**
 * `{ overlap_seconds, jwk? }`: how long the previous secret (or key) keeps working (0: not
 * at all), and for a `private_key_jwt` client the new public key.
 */
export function checkRotation(body: unknown): Checked<RotationRequest> {
  if (!isRecord(body)) return refuse("the body must be a JSON object");
  for (const key of Object.keys(body)) {
    if (key !== "overlap_seconds" && key !== "jwk") return refuse(`unknown field "${key}"`);
  }
  const overlap = body.overlap_seconds;
  if (!isWholeSeconds(overlap, 0, MAX_OVERLAP_SECONDS)) {
    return refuse(`"overlap_seconds" must be whole seconds, 0–${MAX_OVERLAP_SECONDS}`);
  }
  if (body.jwk === undefined) return { ok: true, value: { overlapSeconds: overlap } };
  const key = checkClientKey(body.jwk);
  return key.ok ? { ok: true, value: { overlapSeconds: overlap, key: key.value } } : key;
}

/**
 * The scope to grant for a request's `scope` parameter (RFC 6749 §3.3): absent or empty,
 * everything the client holds; otherwise exactly the asked scopes, each of which the
 * client must hold. Undefined: the request asks for one it does not hold, or is malformed
 * (`invalid_scope`).
 */
export function grantedScope(requested: string | undefined, held: readonly string[]): readonly string[] | undefined {
  if (requested === undefined || requested.trim() === "") return held;
  const asked = requested.split(" ").filter((scope) => scope !== "");
  if (asked.some((scope) => !SCOPE_TOKEN.test(scope) || !held.includes(scope))) return undefined;
  return [...new Set(asked)];
}
