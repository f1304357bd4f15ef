/**
 * Verifies an access token: shape first (cheap, before any cryptography), then the
 * signature with a key the configuration chose, then the claims (RFC 8725, RFC 9068).
 *
 * Returns `valid`, or `expired` for a token whose signature and every other claim check
 * out but whose `exp` has passed: such a token may be refreshed transparently with the
 * refresh cookie of its session. Anything else throws a GatewayError whose detail (log
 * only) says why; an UnknownSigningKey for a token of ours whose key was retired.
 */
import { base64url, errors, type JWTHeaderParameters, type JWTVerifyOptions, jwtVerify } from "jose";
import { SIGNING_ALGORITHMS } from "../config/parse-signing-keys";
import { GatewayError } from "../errors/gateway-error";
import { type AccessTokenClaims, readClaims, SERVICE_SUBJECT_PREFIX } from "./access-token-claims";
import type { KeyRing } from "./key-ring";
import { isOpaqueToken } from "./token-introspection";
import { readTrustedClaims, type TrustedIssuer } from "./trusted-issuers";
import type { VerificationKey } from "./verification-key";
import type { VerifyOptions, VerifyResult } from "./verify-result";

/** Longest token we look at; anything longer is refused before decoding. */
export const MAX_TOKEN_LENGTH = 8192;
/** No access token may live longer than this, whatever it claims. */
export const MAX_ACCESS_TOKEN_LIFETIME = 24 * 60 * 60;
/** RFC 9068 `typ`, required on tokens signed with our own keys. */
export const ACCESS_TOKEN_TYPE = "at+jwt";

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const FORBIDDEN_HEADER_PARAMS = ["jwk", "jku", "x5u", "x5c", "crit", "b64", "zip", "enc"] as const;

export type { VerifyOptions, VerifyResult } from "./verify-result";

function malformed(detail: string): GatewayError {
  return new GatewayError("token_malformed", { detail });
}

function invalid(detail: string, cause?: unknown): GatewayError {
  return new GatewayError("token_invalid", { detail, cause });
}

/**
 * A token that reads as one of our access tokens (`typ` at+jwt, our `iss`, an `alg` of our
 * keys) but names a key id no configured key has: most likely signed by a signing key
 * that has since been retired. Its signature cannot be checked, so nothing in it is
 * trusted; it is refused like any invalid token. The `sid` it claims is kept only so a
 * refresh cookie of that same session may stand in for it (gateway/authenticate.ts): the
 * session and subject then come from the refresh token's own session, never from here.
 */
export class UnknownSigningKey extends GatewayError {
  /** The session the unverified token claims: a filter, never an identity. */
  readonly claimedSid: string;

  constructor(claimedSid: string) {
    super("token_invalid", { detail: "signed by a key no longer configured (unknown kid)" });
    this.name = "UnknownSigningKey";
    this.claimedSid = claimedSid;
  }
}

/**
 * Does this JSON text name a member twice in one object? JSON.parse keeps the last one;
 * other parsers (the upstream's, which may verify the same token) keep the first or
 * refuse, so a signed token with duplicates means different things to each (RFC 7515
 * §5.2, RFC 7519 §4 allow refusing it). Text that is not JSON answers false: the parser
 * refuses it later.
 */
export function hasDuplicateMembers(text: string): boolean {
  const objects: Array<Set<string> | null> = [];
  let expectingName = false;
  for (let index = 0; index < text.length; index++) {
    const char = text[index];
    if (char === '"') {
      let end = index + 1;
      while (end < text.length && text[end] !== '"') end += text[end] === "\\" ? 2 : 1;
      const names = objects.at(-1);
      if (expectingName && names) {
        let name: string;
        try {
          name = JSON.parse(text.slice(index, end + 1)) as string;
        } catch {
          return false;
        }
        if (names.has(name)) return true;
        names.add(name);
        expectingName = false;
      }
      index = end;
    } else if (char === "{") {
      objects.push(new Set());
      expectingName = true;
    } else if (char === "[") {
      objects.push(null);
      expectingName = false;
    } else if (char === "}" || char === "]") {
      objects.pop();
      expectingName = false;
    } else if (char === ",") {
      expectingName = objects.at(-1) != null;
    }
  }
  return false;
}

const UTF8 = new TextDecoder();

function segmentText(segment: string): string {
  try {
    return UTF8.decode(base64url.decode(segment));
  } catch {
    throw malformed("a segment is not base64url");
  }
}

/** Shape checks that need no key: length, alphabet, three parts, a sane header. */
export function inspectToken(token: string): JWTHeaderParameters {
  return inspectTokenParts(token).header;
}

function inspectTokenParts(token: string): { header: JWTHeaderParameters; payloadText: string } {
  if (token.length > MAX_TOKEN_LENGTH) throw malformed("token longer than the cap");
  if (!COMPACT_JWS.test(token)) throw malformed("not a compact JWS (three base64url parts)");
  // Each segment is decoded once here; jose decodes them again when it verifies.
  const [protectedHeader = "", payload = ""] = token.split(".");
  const headerText = segmentText(protectedHeader);
  const header = parsedHeader(headerText);
  if (typeof header.alg !== "string" || header.alg.toLowerCase() === "none") throw invalid("alg missing or none");
  for (const param of FORBIDDEN_HEADER_PARAMS) {
    if (Object.hasOwn(header, param)) throw invalid(`header parameter "${param}" is not accepted`);
  }
  if (header.kid !== undefined && (typeof header.kid !== "string" || header.kid.length > 256)) {
    throw invalid("kid is not a short string");
  }
  const payloadText = segmentText(payload);
  if (hasDuplicateMembers(headerText) || hasDuplicateMembers(payloadText)) {
    throw invalid("header or claims name a member twice");
  }
  return { header, payloadText };
}

/** The protected header as a JSON object (jose's own check, before it verifies: an object, nothing else). */
function parsedHeader(text: string): JWTHeaderParameters {
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (error) {
    throw malformed(`header does not decode: ${(error as Error).name}`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw malformed("header does not decode: not a JSON object");
  }
  return header as JWTHeaderParameters;
}

/** Why no configured key verifies this token: an UnknownSigningKey when it reads as ours, else invalid. */
async function noKeyFor(
  header: JWTHeaderParameters,
  payloadText: string,
  keys: KeyRing,
  options: VerifyOptions,
): Promise<GatewayError> {
  const { alg, kid } = header;
  const readsAsOurs = typeof kid === "string" && header.typ === ACCESS_TOKEN_TYPE && SIGNING_ALGORITHMS.has(alg);
  if (readsAsOurs && (await keys.isUnknownKid(kid, options.now))) {
    let claimed: { iss?: unknown; sid?: unknown } | null = null;
    try {
      claimed = JSON.parse(payloadText) as { iss?: unknown; sid?: unknown } | null;
    } catch {
      claimed = null;
    }
    if (claimed?.iss === options.issuer && typeof claimed.sid === "string") return new UnknownSigningKey(claimed.sid);
  }
  return invalid(`no configured key for alg ${alg}`);
}

/**
 * What a payload claims, before its signature is checked: `exp` only to choose the
 * verification time, `iss` only to choose whose keys verify it. Parsed once.
 */
function claimedOf(payloadText: string): { exp: number | undefined; iss: string | undefined } {
  let claimed: { exp?: unknown; iss?: unknown } | null;
  try {
    claimed = JSON.parse(payloadText) as { exp?: unknown; iss?: unknown } | null;
  } catch {
    return { exp: undefined, iss: undefined };
  }
  const exp = claimed?.exp;
  const iss = claimed?.iss;
  return {
    exp: typeof exp === "number" && Number.isFinite(exp) ? exp : undefined,
    iss: typeof iss === "string" ? iss : undefined,
  };
}

export async function verifyAccessToken(token: string, keys: KeyRing, options: VerifyOptions): Promise<VerifyResult> {
  // An opaque token (no dots: no JWT) is its issuer's to judge, where one is configured to be asked.
  if (keys.introspection !== undefined && token.length <= MAX_TOKEN_LENGTH && isOpaqueToken(token)) {
    return keys.introspection.verify(token, options);
  }
  const { header, payloadText } = inspectTokenParts(token);
  const claimed = claimedOf(payloadText);
  // Another issuer's token (TRUSTED_ISSUERS) goes to that issuer's keys alone; every other
  // token, whatever it claims, to the gateway's own, which then insist on TOKEN_ISSUER.
  const trusted =
    keys.trusted !== undefined && claimed.iss !== undefined && claimed.iss !== options.issuer
      ? keys.trusted.of(claimed.iss)
      : undefined;
  if (trusted !== undefined) return verifyTrusted(token, header, claimed.exp, trusted, options);

  const key = await keys.resolve(header, options.now);
  if (key === undefined) throw await noKeyFor(header, payloadText, keys, options);
  const own = key.source === "signing-key";
  const verified = await verifySignedClaims(token, key, claimed.exp, options, {
    algorithms: [key.alg],
    issuer: options.issuer,
    audience: options.audience,
    requiredClaims: own ? ["sub", "exp", "iat", "jti"] : ["sub", "exp", "iat"],
    ...(own ? { typ: ACCESS_TOKEN_TYPE } : {}),
  });
  const claims = readClaims(verified.payload);
  if (claims === undefined) throw invalid("claims have the wrong types or sizes");
  // The gateway's own tokens name their session; only a service client's (client_credentials) has none.
  if (own && claims.sid === undefined && !claims.sub.startsWith(SERVICE_SUBJECT_PREFIX)) {
    throw invalid("a token of the gateway's own without a session (sid)");
  }
  return checkedTimes(claims, verified.expired, options);
}

/**
 * A token claiming the `iss` of a trusted issuer: only that issuer's algorithms and keys,
 * its audience, its claim mapping, and its `max_token_age`.
 */
async function verifyTrusted(
  token: string,
  header: JWTHeaderParameters,
  exp: number | undefined,
  trusted: TrustedIssuer,
  options: VerifyOptions,
): Promise<VerifyResult> {
  const { config } = trusted;
  const { alg, kid } = header;
  if (!config.algorithms.includes(alg)) throw invalid(`alg ${alg} is not accepted from issuer ${config.id}`);
  const key = await trusted.keys.get(kid, alg, options.now);
  if (key === undefined || key.alg !== alg) throw invalid(`no key of issuer ${config.id} for this kid and alg`);
  const verified = await verifySignedClaims(token, key, exp, options, {
    algorithms: [alg],
    issuer: config.issuer,
    audience: [...config.audience],
    requiredClaims: ["sub", "exp", "iat"],
  });
  const claims = readTrustedClaims(verified.payload, config);
  if (claims === undefined) throw invalid(`claims of issuer ${config.id} have the wrong types or sizes`);
  if (config.maxTokenAge !== undefined) {
    const age = Math.floor(options.now / 1000) - claims.iat;
    if (age > config.maxTokenAge + options.clockToleranceSeconds) {
      throw invalid(`older than max_token_age of issuer ${config.id}`);
    }
  }
  return checkedTimes(claims, verified.expired, options);
}

/** The checks of `iat` and lifetime every token gets, at the real time; then valid or expired. */
function checkedTimes(claims: AccessTokenClaims, expired: boolean, options: VerifyOptions): VerifyResult {
  const nowSeconds = Math.floor(options.now / 1000);
  if (claims.iat > nowSeconds + options.clockToleranceSeconds) throw invalid("iat is in the future");
  if (claims.exp - claims.iat > MAX_ACCESS_TOKEN_LIFETIME) throw invalid("lifetime longer than the cap");
  return expired ? { status: "expired", claims } : { status: "valid", claims };
}

/** jose's checks of signature and claims, for one key chosen by the configuration. */
async function verifySignedClaims(
  token: string,
  key: VerificationKey,
  exp: number | undefined,
  options: VerifyOptions,
  checks: Pick<JWTVerifyOptions, "algorithms" | "issuer" | "audience" | "requiredClaims" | "typ">,
): Promise<{ payload: Record<string, unknown>; expired: boolean }> {
  const nowSeconds = Math.floor(options.now / 1000);
  const tolerance = options.clockToleranceSeconds;
  // An expired token (the transparent-refresh path) is verified as of the last second it
  // was valid, so jose checks the signature and every other claim exactly as for a valid
  // token and returns instead of building a JWTExpired error (≈ 40 µs per refresh). The
  // expiry itself is decided here, with jose's own rule, and the iat check after it still
  // uses the real time. A claimed exp is only trusted once the signature has verified.
  const expired = exp !== undefined && exp <= nowSeconds - tolerance;
  const verifyAt = expired ? (exp + tolerance - 1) * 1000 : options.now;
  try {
    const result = await jwtVerify(token, key.key, {
      ...checks,
      clockTolerance: tolerance,
      currentDate: new Date(verifyAt),
    });
    return { payload: result.payload, expired };
  } catch (error) {
    const code = error instanceof errors.JOSEError ? error.code : "ERR_UNKNOWN";
    throw invalid(`verification failed: ${code}`, error);
  }
}
