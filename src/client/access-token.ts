/**
 * The access token as the client keeps it: in memory, with the moment (on this
 * machine's clock) it stops being worth sending.
 *
 * The expiry is counted from when the token arrived plus its lifetime (`expires_in`, or
 * `exp - iat` for a token that came in a response header), never from `exp` against the
 * local clock: a browser whose clock is off by minutes still refreshes at the right time.
 * Decoding the payload here is for scheduling only; the gateway verifies every token.
 *
 * A token is sent in the scheme it was issued for: `Bearer`, or `DPoP` for a token bound
 * to the client's key (RFC 9449: `token_type: "DPoP"`, or `Authorization: DPoP` when the
 * gateway refreshed it on the way).
 */

/** The `Authorization` scheme a token is sent with. */
export type TokenScheme = "Bearer" | "DPoP";

export interface HeldToken {
  readonly value: string;
  readonly scheme: TokenScheme;
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
  readonly cnf?: unknown;
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
 * @param scheme as the gateway said; when absent, `DPoP` for a token with a `cnf.jkt`
 *   claim (a key-bound JWT), else `Bearer`.
 */
export function holdToken(value: string, now: number, lifetimeSeconds?: number, scheme?: TokenScheme): HeldToken {
  const payload = peekPayload(value);
  const exp = numberOrUndefined(payload.exp);
  const iat = numberOrUndefined(payload.iat);
  const lifetime = lifetimeSeconds ?? (exp !== undefined && iat !== undefined ? exp - iat : 0);
  return {
    value,
    scheme: scheme ?? (isKeyBound(payload) ? "DPoP" : "Bearer"),
    receivedAt: now,
    expiresAt: now + Math.max(0, lifetime) * 1000,
    sessionId: typeof payload.sid === "string" ? payload.sid : undefined,
    issuedAt: iat,
  };
}

/** The token of a token response (login, refresh), or undefined when the body holds none. */
export async function readTokenResponse(response: Response, now: number): Promise<HeldToken | undefined> {
  try {
    const body = (await response.json()) as { access_token?: unknown; expires_in?: unknown; token_type?: unknown };
    if (typeof body.access_token !== "string" || body.access_token === "") return undefined;
    const lifetime = typeof body.expires_in === "number" ? body.expires_in : undefined;
    return holdToken(body.access_token, now, lifetime, schemeOfTokenType(body.token_type));
  } catch {
    return undefined;
  }
}

/** True when `candidate` is not older than `current` (a late answer must not undo a refresh). */
export function isNotOlder(candidate: HeldToken, current: HeldToken | undefined): boolean {
  if (current === undefined) return true;
  if (candidate.issuedAt === undefined || current.issuedAt === undefined) return true;
  return candidate.issuedAt >= current.issuedAt;
}

function isKeyBound(payload: PayloadFields): boolean {
  const cnf = payload.cnf;
  return typeof cnf === "object" && cnf !== null && typeof (cnf as { jkt?: unknown }).jkt === "string";
}

/** The scheme a token response's `token_type` names (RFC 6749 §7.1: case-insensitive). */
export function schemeOfTokenType(tokenType: unknown): TokenScheme {
  return typeof tokenType === "string" && tokenType.toLowerCase() === "dpop" ? "DPoP" : "Bearer";
}

/** The token and scheme of an `Authorization: Bearer …` or `Authorization: DPoP …` header value. */
export function credentialFromHeader(
  value: string | null | undefined,
): { readonly scheme: TokenScheme; readonly token: string } | undefined {
  const match = /^(Bearer|DPoP) +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(value ?? "");
  if (match?.[1] === undefined || match[2] === undefined) return undefined;
  return { scheme: schemeOfTokenType(match[1]), token: match[2] };
}

/** True for a 401 whose `WWW-Authenticate` says the token (not its absence) was the problem. */
export function isInvalidTokenChallenge(status: number, wwwAuthenticate: string | null | undefined): boolean {
  return status === 401 && /\berror\s*=\s*"?invalid_token"?/i.test(wwwAuthenticate ?? "");
}
