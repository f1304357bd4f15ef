/**
 * Finds the access token in a request: `Authorization: Bearer` (RFC 6750 §2.1) or the
 * gateway's access cookie. A request that carries a token in more than one place is
 * refused (RFC 6750 §3.1 invalid_request) rather than guessing which one counts.
 */
import { GatewayError } from "../errors/gateway-error";
import { ACCESS_COOKIE, cookieValues } from "../http/cookies";

export type CredentialSource = "header" | "cookie";

export interface PresentedToken {
  readonly token: string;
  readonly source: CredentialSource;
  /** `Authorization: DPoP` (RFC 9449 §7.1): the token must be bound, and a proof comes with it. */
  readonly dpop: boolean;
}

// RFC 6750 §2.1: "Bearer" 1*SP b64token
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;
const BEARER_SCHEME = /^\s*Bearer(\s|$)/i;
// RFC 9449 §7.1: "DPoP" 1*SP token68
const DPOP = /^DPoP +([A-Za-z0-9\-._~+/]+=*) *$/i;
const DPOP_SCHEME = /^\s*DPoP(\s|$)/i;

/**
 * Authorization values that held one well-formed Bearer token → that token. `bearerToken`
 * is a pure function of the value, and a client sends the same value until its token
 * changes, so one lookup replaces the two pattern matches and the scan for a comma. The
 * token handed out is the same string object each time, so the verification cache's
 * lookup that follows finds its key at once. At most MAX_PARSED_BEARERS values (oldest
 * first out), each at most MAX_REMEMBERED_LENGTH characters: anyone can send values that
 * parse, so what they can make an isolate hold stays at a few MiB.
 */
const parsedBearers = new Map<string, string>();
export const MAX_PARSED_BEARERS = 1024;
export const MAX_REMEMBERED_LENGTH = 4096;

/**
 * The bearer token in an Authorization header value, undefined for other schemes.
 * Throws for a Bearer header that is malformed or holds more than one credential.
 */
export function bearerToken(authorization: string | null): string | undefined {
  return authorization === null ? undefined : rememberedParse(parsedBearers, authorization, parseBearer);
}

/** `parse(authorization)`, remembered in `parsed` for values that held a token (bounded as above). */
function rememberedParse(
  parsed: Map<string, string>,
  authorization: string,
  parse: (authorization: string) => string | undefined,
): string | undefined {
  const known = parsed.get(authorization);
  if (known !== undefined) return known;
  const token = parse(authorization);
  if (token !== undefined && authorization.length <= MAX_REMEMBERED_LENGTH) {
    if (parsed.size >= MAX_PARSED_BEARERS) parsed.delete(parsed.keys().next().value as string);
    parsed.set(authorization, token);
  }
  return token;
}

function parseBearer(authorization: string): string | undefined {
  // Two Authorization headers reach us joined by ", ". Other schemes (Digest) use commas
  // inside one credential, so a comma only matters when a Bearer credential is involved.
  if (authorization.includes(",")) {
    if (authorization.split(",").some((part) => BEARER_SCHEME.test(part))) {
      throw new GatewayError("token_ambiguous", { detail: "several Authorization values" });
    }
    return undefined;
  }
  if (!BEARER_SCHEME.test(authorization)) return undefined;
  const match = BEARER.exec(authorization);
  if (!match?.[1]) throw new GatewayError("token_malformed", { detail: "Bearer header is not a b64token" });
  return match[1];
}

/** The two request headers a token can come in, as the request context read them. */
export interface CredentialHeaders {
  readonly authorization: string | null;
  readonly cookie: string | null;
}

/** `Authorization: DPoP` values that held one well-formed token → that token, as `parsedBearers`. */
const parsedDpop = new Map<string, string>();

/** The token of an `Authorization: DPoP` value, undefined for other schemes. */
function dpopToken(authorization: string | null): string | undefined {
  return authorization === null ? undefined : rememberedParse(parsedDpop, authorization, parseDpop);
}

/** Does this Authorization value use the DPoP scheme (whatever follows)? The challenge then names DPoP. */
export function usesDpopScheme(authorization: string | null): boolean {
  return authorization !== null && DPOP_SCHEME.test(authorization);
}

function parseDpop(authorization: string): string | undefined {
  if (!DPOP_SCHEME.test(authorization)) return undefined;
  if (authorization.includes(","))
    throw new GatewayError("token_ambiguous", { detail: "several Authorization values" });
  const match = DPOP.exec(authorization);
  if (!match?.[1]) throw new GatewayError("token_malformed", { detail: "DPoP header is not a token68" });
  return match[1];
}

export function readAccessToken({ authorization, cookie }: CredentialHeaders): PresentedToken | undefined {
  const bearer = bearerToken(authorization);
  const dpop = bearer === undefined ? dpopToken(authorization) : undefined;
  const fromHeader = bearer ?? dpop;
  const fromCookie = cookieValues(cookie, ACCESS_COOKIE);
  if (fromCookie.length > 1) throw new GatewayError("token_ambiguous", { detail: "several access cookies" });
  if (fromHeader !== undefined && fromCookie.length === 1) {
    throw new GatewayError("token_ambiguous", { detail: "token in both header and cookie" });
  }
  if (fromHeader !== undefined) return { token: fromHeader, source: "header", dpop: dpop !== undefined };
  const fromAccessCookie = fromCookie[0];
  if (fromAccessCookie !== undefined && fromAccessCookie !== "") {
    return { token: fromAccessCookie, source: "cookie", dpop: false };
  }
  return undefined;
}
