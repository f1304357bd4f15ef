/**
 * The signed upstream assertion (docs/upstream-assertion.md): a short-lived JWT the
 * gateway adds to every request it forwards on a protected route, so an upstream that can
 * also be reached some other way can prove a request came through the gateway, and read
 * who made it, from one header it verifies against /.well-known/jwks.json.
 *
 * It is bound to the request it travels with: `htm` is the method and `req` the SHA-256 of
 * `"<METHOD> <path>"` (the path as the upstream receives it, without the query), so an
 * assertion lifted from one request does not pass on another route or method.
 */
import { base64url, CompactSign } from "jose";
import type { AccessTokenClaims } from "./access-token-claims";
import type { SigningKey } from "./key-ring";

/** The header it travels in; a client's own, under any spelling, never reaches the upstream. */
export const ASSERTION_HEADER = "portcullis-assertion";
/** Its JOSE `typ`, so no other JWT of the gateway's (an access token) passes for one. */
export const ASSERTION_TYPE = "portcullis-assertion+jwt";

export interface AssertionOptions {
  readonly issuer: string;
  readonly audience: string;
  readonly ttlSeconds: number;
  /** Names of the token's claims to copy (UPSTREAM_ASSERTION_CLAIMS). */
  readonly claims: readonly string[];
  /** Milliseconds since the epoch. */
  readonly now: number;
}

const ENCODER = new TextEncoder();

/** `req`: base64url(SHA-256(method + " " + path)); the same computation the verifier makes. */
export async function requestHash(method: string, path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", ENCODER.encode(`${method} ${path}`));
  return base64url.encode(new Uint8Array(digest));
}

/**
 * The identity part of the claims set, as JSON members, made once per verified claims
 * object (claims are cached per token, so a token's later requests reuse it) and list of
 * copied claims.
 */
const identityMembers = new WeakMap<AccessTokenClaims, { copied: readonly string[]; members: string }>();

function identityOf(claims: AccessTokenClaims, copied: readonly string[]): string {
  const made = identityMembers.get(claims);
  if (made !== undefined && made.copied === copied) return made.members;
  const identity: Record<string, unknown> = { sub: claims.sub };
  if (claims.sid !== undefined) identity.sid = claims.sid;
  identity.scope = [...claims.scopes].join(" ");
  identity.roles = [...claims.roles];
  if (claims.jkt !== undefined) identity.cnf = { jkt: claims.jkt };
  // A token of a trusted issuer (TRUSTED_ISSUERS): that issuer's id, so the upstream can tell a CI job from a user.
  if (claims.trustedIssuer !== undefined) identity.token_issuer = claims.trustedIssuer;
  // The config refuses a copied name the assertion sets itself.
  for (const name of copied) if (claims.payload?.[name] !== undefined) identity[name] = claims.payload[name];
  const members = JSON.stringify(identity).slice(1, -1);
  identityMembers.set(claims, { copied, members });
  return members;
}

/** The protected header, one per signing key. */
const headers = new WeakMap<SigningKey, { alg: string; typ: string; kid?: string }>();

function headerOf(signer: SigningKey): { alg: string; typ: string; kid?: string } {
  let header = headers.get(signer);
  if (header === undefined) {
    header = { alg: signer.alg, typ: ASSERTION_TYPE, ...(signer.kid ? { kid: signer.kid } : {}) };
    headers.set(signer, header);
  }
  return header;
}

/**
 * An assertion is reused for the same token, method and path for REUSE_SECONDS: signing is
 * most of what the assertion costs (docs/benchmarks.md), and a client repeating a request
 * repeats it within seconds. The request it was made for is the same, and the token was
 * authorized again for this request; only `iat`, `exp` and `jti` are the earlier ones, so
 * `jti` names a (token, request, 5 s) rather than one request.
 */
export const REUSE_SECONDS = 5;
/** At most this many remembered assertions per signing key, oldest first out. */
export const MAX_REMEMBERED_ASSERTIONS = 4096;

interface Remembered {
  readonly assertion: string;
  /** Milliseconds since the epoch until which it is handed out again. */
  readonly until: number;
}

const remembered = new WeakMap<SigningKey, Map<string, Remembered>>();

/**
 * The assertion for one forwarded request: `method` and `path` exactly as the upstream
 * receives them. A string when one made for the same token and request within
 * REUSE_SECONDS is at hand (no await), else the promise of a new one.
 */
export function upstreamAssertion(
  claims: AccessTokenClaims,
  token: string,
  method: string,
  path: string,
  signer: SigningKey,
  options: AssertionOptions,
): string | Promise<string> {
  let cache = remembered.get(signer);
  if (cache === undefined) {
    cache = new Map();
    remembered.set(signer, cache);
  }
  const key = `${options.audience} ${method} ${path} ${token}`;
  const hit = cache.get(key);
  if (hit !== undefined) {
    if (options.now < hit.until) return hit.assertion;
    cache.delete(key);
  }
  return mintAndRemember(cache, key, claims, method, path, signer, options);
}

async function mintAndRemember(
  cache: Map<string, Remembered>,
  key: string,
  claims: AccessTokenClaims,
  method: string,
  path: string,
  signer: SigningKey,
  options: AssertionOptions,
): Promise<string> {
  const assertion = await mintUpstreamAssertion(claims, method, path, signer, options);
  if (cache.size >= MAX_REMEMBERED_ASSERTIONS) {
    const oldest = cache.keys().next().value;
    if (oldest !== undefined) cache.delete(oldest);
  }
  // Counted from the second of `iat`, so a reused assertion always has most of its life left.
  cache.set(key, { assertion, until: (Math.floor(options.now / 1000) + REUSE_SECONDS) * 1000 });
  return assertion;
}

/** Signs an assertion for one forwarded request: `method` and `path` exactly as the upstream receives them. */
export async function mintUpstreamAssertion(
  claims: AccessTokenClaims,
  method: string,
  path: string,
  signer: SigningKey,
  options: AssertionOptions,
): Promise<string> {
  const iat = Math.floor(options.now / 1000);
  const req = await requestHash(method, path);
  // Built as text, not through SignJWT: every value is ours or was checked when the token
  // was verified, and the identity part is serialized once per token.
  const text =
    `{"iss":${JSON.stringify(options.issuer)},"aud":${JSON.stringify(options.audience)},` +
    `${identityOf(claims, options.claims)},"iat":${iat},"exp":${iat + options.ttlSeconds},` +
    `"jti":"${crypto.randomUUID()}","htm":${JSON.stringify(method)},"req":"${req}"}`;
  return new CompactSign(ENCODER.encode(text)).setProtectedHeader(headerOf(signer)).sign(signer.key);
}
