/**
 * Verifies a DPoP proof (RFC 9449 §4.3): a JWS the client signs for one request with a key
 * only it holds, naming that request's method and URI, so a token bound to the key
 * (`cnf.jkt`) is worth nothing to whoever copies it without the key.
 *
 * Checked, in order, cheapest first: one compact JWS of sane length; the header (`typ`
 * dpop+jwt, an asymmetric `alg` of the allow-list, a public `jwk` of a matching type and
 * nothing that names another key); the signature by that `jwk`; then the claims: `htm`,
 * `htu`, `iat` within the window, `ath` over the access token, the server nonce when one
 * is asked for, and last the `jti`, so only a proof that passed everything else can take a
 * place in the replay cache. Every refusal is a DpopRefusal whose reason is for the log.
 *
 * A client signs its proofs with one key, so the protected header is the same string on
 * each: its checks, the imported key and the thumbprint are remembered by that string.
 */
import { base64url, calculateJwkThumbprint, compactVerify, importJWK, type JWK } from "jose";
import { hasDuplicateMembers } from "../tokens/verify-access-token";

/** Asymmetric algorithms a proof may use (RFC 9449 §4.3 check 5), advertised in `algs=`. */
export const DPOP_ALGORITHMS: readonly string[] = Object.freeze([
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
  "Ed25519",
  "PS256",
  "PS384",
  "PS512",
  "RS256",
  "RS384",
  "RS512",
]);
const ALGORITHMS = new Set(DPOP_ALGORITHMS);
/** Key type each algorithm needs. */
const KEY_TYPE: Record<string, string> = { E: "EC", P: "RSA", R: "RSA" };
/** Members of a private or symmetric JWK: a proof's `jwk` carrying one is refused. */
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] as const;
/** Header parameters that point at some other key or change how the JWS is read. */
const FORBIDDEN_HEADER = ["jku", "x5u", "x5c", "crit", "b64", "zip", "enc"] as const;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
export const MAX_PROOF_LENGTH = 8192;
const MAX_JTI_LENGTH = 256;
/** RSA moduli shorter than this (bytes: 2048 bits) are refused. */
const MIN_RSA_MODULUS_BYTES = 256;

export class DpopRefusal extends Error {
  /** Log only. */
  readonly reason: string;
  /** The proof lacked the current server nonce: answer `use_dpop_nonce`. */
  readonly nonceNeeded: boolean;

  constructor(reason: string, nonceNeeded = false) {
    super(`DPoP proof refused: ${reason}`);
    this.name = "DpopRefusal";
    this.reason = reason;
    this.nonceNeeded = nonceNeeded;
  }
}

export interface ProofExpectation {
  /** The request's method, upper case. */
  readonly method: string;
  /** `<scheme>://<authority><canonical path>`: what `htu` must say, exactly. */
  readonly uri: string;
  /** The access token presented with the proof: `ath` must be its hash. Undefined at the token endpoints. */
  readonly accessToken: string | undefined;
  /** Milliseconds since the epoch. */
  readonly now: number;
  /** How old (seconds) a proof's `iat` may be. */
  readonly maxAgeSeconds: number;
  /** How far (seconds) into the future `iat` may be. */
  readonly clockToleranceSeconds: number;
  /** Undefined: no nonce is asked for. Otherwise true when the nonce is current. */
  readonly nonceIsCurrent?: (nonce: string) => boolean;
  /** True the first time a key's `jti` is seen within the window (replay-cache.ts). */
  readonly claimJti: (jkt: string, jti: string, untilMs: number) => boolean;
}

export interface VerifiedProof {
  /** RFC 7638 SHA-256 thumbprint of the proof's key. */
  readonly jkt: string;
  readonly jti: string;
  /** Until when (ms) this proof's `jti` must stay unique: the end of its window. */
  readonly until: number;
}

interface ProofHeader {
  readonly alg: string;
  readonly key: CryptoKey;
  readonly jkt: string;
}

/** Checked headers by their base64url text; a client's proofs all share one. */
const headers = new Map<string, Promise<ProofHeader>>();
const MAX_REMEMBERED_HEADERS = 1024;
const UTF8 = new TextDecoder();
const ENCODER = new TextEncoder();

export async function verifyProof(proof: string, expected: ProofExpectation): Promise<VerifiedProof> {
  if (proof.length > MAX_PROOF_LENGTH) throw new DpopRefusal("proof longer than the cap");
  if (!COMPACT_JWS.test(proof)) throw new DpopRefusal("not one compact JWS");
  const headerText = proof.slice(0, proof.indexOf("."));
  const header = await checkedHeader(headerText);

  let payload: Uint8Array;
  try {
    payload = (await compactVerify(proof, header.key, { algorithms: [header.alg] })).payload;
  } catch (error) {
    throw new DpopRefusal(`signature: ${(error as { code?: string }).code ?? "invalid"}`);
  }
  const claims = parseObject(UTF8.decode(payload), "claims");
  const { jti, htm, htu, iat, ath, nonce } = claims;
  if (typeof jti !== "string" || jti.length === 0 || jti.length > MAX_JTI_LENGTH) throw new DpopRefusal("jti");
  if (htm !== expected.method) throw new DpopRefusal("htm is not the request's method");
  if (htu !== expected.uri) throw new DpopRefusal("htu is not the request's URI");
  if (typeof iat !== "number" || !Number.isFinite(iat)) throw new DpopRefusal("iat missing");
  const nowSeconds = expected.now / 1000;
  if (iat > nowSeconds + expected.clockToleranceSeconds) throw new DpopRefusal("iat in the future");
  if (iat < nowSeconds - expected.maxAgeSeconds) throw new DpopRefusal("iat too old");
  if (expected.accessToken !== undefined) {
    if (typeof ath !== "string") throw new DpopRefusal("ath missing");
    if (ath !== (await tokenHash(expected.accessToken))) throw new DpopRefusal("ath is not the token's hash");
  }
  if (expected.nonceIsCurrent !== undefined) {
    if (typeof nonce !== "string") throw new DpopRefusal("nonce missing", true);
    if (!expected.nonceIsCurrent(nonce)) throw new DpopRefusal("nonce not current", true);
  }
  // The window a jti must stay unique for: until the proof would be too old anyway.
  const until = (iat + expected.maxAgeSeconds + expected.clockToleranceSeconds) * 1000;
  if (!expected.claimJti(header.jkt, jti, until)) throw new DpopRefusal("jti replayed");
  return { jkt: header.jkt, jti, until };
}

/** `ath`: base64url of the SHA-256 of the token's ASCII (RFC 9449 §4.2). */
export async function tokenHash(token: string): Promise<string> {
  return base64url.encode(new Uint8Array(await crypto.subtle.digest("SHA-256", ENCODER.encode(token))));
}

function checkedHeader(text: string): Promise<ProofHeader> {
  let checked = headers.get(text);
  if (checked === undefined) {
    checked = readHeader(text);
    // A refused header is not remembered: anyone can send new ones.
    checked.catch(() => headers.delete(text));
    if (headers.size >= MAX_REMEMBERED_HEADERS) headers.delete(headers.keys().next().value as string);
    headers.set(text, checked);
  }
  return checked;
}

async function readHeader(text: string): Promise<ProofHeader> {
  let decoded: string;
  try {
    decoded = UTF8.decode(base64url.decode(text));
  } catch {
    throw new DpopRefusal("header is not base64url");
  }
  const header = parseObject(decoded, "header");
  if (header.typ !== "dpop+jwt") throw new DpopRefusal("typ is not dpop+jwt");
  const { alg, jwk } = header;
  if (typeof alg !== "string" || !ALGORITHMS.has(alg)) throw new DpopRefusal("alg not allowed");
  for (const name of FORBIDDEN_HEADER) if (Object.hasOwn(header, name)) throw new DpopRefusal(`header has ${name}`);
  if (typeof jwk !== "object" || jwk === null || Array.isArray(jwk)) throw new DpopRefusal("no jwk");
  const key = jwk as JWK;
  for (const name of PRIVATE_MEMBERS) if (Object.hasOwn(key, name)) throw new DpopRefusal(`jwk has ${name}`);
  const wantedType = alg.startsWith("Ed") ? "OKP" : KEY_TYPE[alg[0] as string];
  if (key.kty !== wantedType) throw new DpopRefusal("jwk type does not fit alg");
  if (wantedType === "RSA" && (typeof key.n !== "string" || base64url.decode(key.n).length < MIN_RSA_MODULUS_BYTES)) {
    throw new DpopRefusal("RSA key shorter than 2048 bits");
  }
  try {
    const imported = await importJWK(key, alg);
    if (!(imported instanceof CryptoKey) || imported.type !== "public")
      throw new DpopRefusal("jwk is not a public key");
    return { alg, key: imported, jkt: await calculateJwkThumbprint(key, "sha256") };
  } catch (error) {
    if (error instanceof DpopRefusal) throw error;
    throw new DpopRefusal("jwk does not import");
  }
}

function parseObject(text: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new DpopRefusal(`${what} is not JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new DpopRefusal(`${what} not an object`);
  if (hasDuplicateMembers(text)) throw new DpopRefusal(`${what} names a member twice`);
  return value as Record<string, unknown>;
}
