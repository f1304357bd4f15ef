/**
 * What an operator may ask of the service-client endpoints, checked before anything is
 * stored, and the scope a client may ask for at the token endpoint. Pure functions: each
 * returns the checked value or a reason (a string for the log and the operator's 400).
 */

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

export type Checked<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

const refuse = (reason: string): { ok: false; reason: string } => ({ ok: false, reason });

export interface NewClientRequest {
  readonly name: string;
  readonly scopes: readonly string[];
  readonly expiresInSeconds: number;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isWholeSeconds(value: unknown, min: number, max: number): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= min && value <= max;
}

/** `{ name, scopes, expires_in }`: a name, RFC 6749 scope tokens, seconds until it expires. */
export function checkNewClient(body: unknown): Checked<NewClientRequest> {
  if (!isRecord(body)) return refuse("the body must be a JSON object");
  const { name, scopes, expires_in: expiresIn } = body;
  for (const key of Object.keys(body)) {
    if (key !== "name" && key !== "scopes" && key !== "expires_in") return refuse(`unknown field "${key}"`);
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
  return { ok: true, value: { name, scopes: [...new Set(scopes)], expiresInSeconds: expiresIn } };
}

/** `{ overlap_seconds }`: how long the previous secret keeps working (0: not at all). */
export function checkRotation(body: unknown): Checked<{ readonly overlapSeconds: number }> {
  if (!isRecord(body)) return refuse("the body must be a JSON object");
  for (const key of Object.keys(body)) {
    if (key !== "overlap_seconds") return refuse(`unknown field "${key}"`);
  }
  const overlap = body.overlap_seconds;
  if (!isWholeSeconds(overlap, 0, MAX_OVERLAP_SECONDS)) {
    return refuse(`"overlap_seconds" must be whole seconds, 0–${MAX_OVERLAP_SECONDS}`);
  }
  return { ok: true, value: { overlapSeconds: overlap } };
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
