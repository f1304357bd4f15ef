/**
 * The access token as the client keeps it: in memory, with the moment (on this
 * machine's clock) it stops being worth sending.
 *
 * The expiry is counted from when the token arrived plus its lifetime (`expires_in`, or
 * `exp - iat` for a token that came in a response header), never from `exp` against the
 * local clock: a browser whose clock is off by minutes still refreshes at the right time.
 * Decoding the payload here is for scheduling only; the gateway verifies every token.
 */

export interface HeldToken {
  readonly value: string;
  /** Local clock, milliseconds. */
  readonly receivedAt: number;
  /** Local clock, milliseconds. */
  readonly expiresAt: number;
  /** The session the token belongs to (`sid`), when it says. */
  readonly sessionId: string | undefined;
  /** `iat` in seconds on the gateway's clock; orders tokens of one gateway. */
  readonly issuedAt: number | undefined;
}

interface PayloadFields {
  readonly exp?: unknown;
  readonly iat?: unknown;
  readonly sid?: unknown;
}

function decodeBase64Url(segment: string): string {
  const base64 = segment.replace(/-/g, "+").replace(/_/g, "/");
  const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
  const binary = atob(padded);
  const bytes = Uint8Array.from(binary, (char) => char.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/** The unverified payload of a JWT, or an empty object when it is not one. */
export function peekPayload(token: string): PayloadFields {
  const segment = token.split(".")[1];
  if (segment === undefined) return {};
  try {
    const payload: unknown = JSON.parse(decodeBase64Url(segment));
    return typeof payload === "object" && payload !== null ? (payload as PayloadFields) : {};
  } catch {
    return {};
  }
}

function numberOrUndefined(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

/**
 * Hold a token.
 * @param lifetimeSeconds `expires_in` from a token response; when absent, `exp - iat`
 *   from the token itself; when that is absent too, the token is treated as due at once.
 */
export function holdToken(value: string, now: number, lifetimeSeconds?: number): HeldToken {
  const payload = peekPayload(value);
  const exp = numberOrUndefined(payload.exp);
  const iat = numberOrUndefined(payload.iat);
  const lifetime = lifetimeSeconds ?? (exp !== undefined && iat !== undefined ? exp - iat : 0);
  return {
    value,
    receivedAt: now,
    expiresAt: now + Math.max(0, lifetime) * 1000,
    sessionId: typeof payload.sid === "string" ? payload.sid : undefined,
    issuedAt: iat,
  };
}

/** True when `candidate` is not older than `current` (a late answer must not undo a refresh). */
export function isNotOlder(candidate: HeldToken, current: HeldToken | undefined): boolean {
  if (current === undefined) return true;
  if (candidate.issuedAt === undefined || current.issuedAt === undefined) return true;
  return candidate.issuedAt >= current.issuedAt;
}

/** The `Bearer` token in an `Authorization` header value, if that is what it holds. */
export function bearerFromHeader(value: string | null | undefined): string | undefined {
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(value ?? "");
  return match?.[1];
}

/** True for a 401 whose `WWW-Authenticate` says the token (not its absence) was the problem. */
export function isInvalidTokenChallenge(status: number, wwwAuthenticate: string | null | undefined): boolean {
  return status === 401 && /\berror\s*=\s*"?invalid_token"?/i.test(wwwAuthenticate ?? "");
}
