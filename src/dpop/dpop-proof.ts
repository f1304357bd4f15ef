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
import { base64url, calculateJwkThumbprint, importJWK, type JWK } from "jose";
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
type VerifyParams = Parameters<SubtleCrypto["verify"]>[0];
/** The WebCrypto verification parameters of each algorithm (RFC 7518 §3; RFC 8037). */
const VERIFY_PARAMS: Record<string, VerifyParams> = {
  ES256: { name: "ECDSA", hash: "SHA-256" },
  ES384: { name: "ECDSA", hash: "SHA-384" },
  ES512: { name: "ECDSA", hash: "SHA-512" },
  EdDSA: { name: "Ed25519" },
  Ed25519: { name: "Ed25519" },
  PS256: { name: "RSA-PSS", saltLength: 32 },
  PS384: { name: "RSA-PSS", saltLength: 48 },
  PS512: { name: "RSA-PSS", saltLength: 64 },
  RS256: { name: "RSASSA-PKCS1-v1_5" },
  RS384: { name: "RSASSA-PKCS1-v1_5" },
  RS512: { name: "RSASSA-PKCS1-v1_5" },
};
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
  readonly params: VerifyParams;
  readonly key: CryptoKey;
  readonly jkt: string;
}

/** Checked headers by their base64url text; a client's proofs all share one. */
const headers = new Map<string, Promise<ProofHeader>>();
/** The same once checked, read without waiting on a promise. */
const readyHeaders = new Map<string, ProofHeader>();
const MAX_REMEMBERED_HEADERS = 1024;
const UTF8 = new TextDecoder();
const ENCODER = new TextEncoder();

export async function verifyProof(proof: string, expected: ProofExpectation): Promise<VerifiedProof> {
  if (proof.length > MAX_PROOF_LENGTH) throw new DpopRefusal("proof longer than the cap");
  if (!COMPACT_JWS.test(proof)) throw new DpopRefusal("not one compact JWS");
  const headerEnd = proof.indexOf(".");
  const payloadEnd = proof.indexOf(".", headerEnd + 1);
  const headerText = proof.slice(0, headerEnd);
  const header = readyHeaders.get(headerText) ?? (await checkedHeader(headerText));

  // The header was checked (and its key imported by jose) once for this key; what is left is
  // RFC 7515 §5.2's signature check over the signing input, as jose's compactVerify makes it.
  const signingInput = ENCODER.encode(proof.slice(0, payloadEnd));
  const signature = decoded(proof.slice(payloadEnd + 1), "signature");
  let verified: boolean;
  try {
    verified = await crypto.subtle.verify(header.params, header.key, signature, signingInput);
  } catch {
    verified = false;
  }
  if (!verified) throw new DpopRefusal("signature does not verify");
  const claims = parseObject(UTF8.decode(decoded(proof.slice(headerEnd + 1, payloadEnd), "claims")), "claims");
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
    const hash = tokenHashes.get(expected.accessToken) ?? (await rememberedTokenHash(expected.accessToken));
    if (ath !== hash) throw new DpopRefusal("ath is not the token's hash");
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

/**
 * `ath` of tokens seen before: a client sends one token with many proofs. Bounded (as the
 * checked headers are): anyone can send tokens.
 */
const tokenHashes = new Map<string, string>();

async function rememberedTokenHash(token: string): Promise<string> {
  let hash = tokenHashes.get(token);
  if (hash === undefined) {
    hash = await tokenHash(token);
    remember(tokenHashes, token, hash);
  }
  return hash;
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
    checked.then(
      (header) => remember(readyHeaders, text, header),
      () => headers.delete(text),
    );
    remember(headers, text, checked);
  }
  return checked;
}

/** Set `key` in a bounded map (oldest first out). */
function remember<T>(map: Map<string, T>, key: string, value: T): void {
  if (map.size >= MAX_REMEMBERED_HEADERS) map.delete(map.keys().next().value as string);
  map.set(key, value);
}

async function readHeader(text: string): Promise<ProofHeader> {
  const header = parseObject(UTF8.decode(decoded(text, "header")), "header");
  if (header.typ !== "dpop+jwt") throw new DpopRefusal("typ is not dpop+jwt");
  const { alg, jwk } = header;
  if (typeof alg !== "string" || !ALGORITHMS.has(alg)) throw new DpopRefusal("alg not allowed");
  for (const name of FORBIDDEN_HEADER) if (Object.hasOwn(header, name)) throw new DpopRefusal(`header has ${name}`);
  if (typeof jwk !== "object" || jwk === null || Array.isArray(jwk)) throw new DpopRefusal("no jwk");
  const key = jwk as JWK;
  for (const name of PRIVATE_MEMBERS) if (Object.hasOwn(key, name)) throw new DpopRefusal(`jwk has ${name}`);
  const wantedType = alg.startsWith("Ed") ? "OKP" : KEY_TYPE[alg[0] as string];
  if (key.kty !== wantedType) throw new DpopRefusal("jwk type does not fit alg");
  if (wantedType === "RSA" && (typeof key.n !== "string" || decoded(key.n, "jwk n").length < MIN_RSA_MODULUS_BYTES)) {
    throw new DpopRefusal("RSA key shorter than 2048 bits");
  }
  try {
    const imported = await importJWK(key, alg);
    if (!(imported instanceof CryptoKey) || imported.type !== "public")
      throw new DpopRefusal("jwk is not a public key");
    return {
      params: VERIFY_PARAMS[alg] as VerifyParams,
      key: imported,
      jkt: await calculateJwkThumbprint(key, "sha256"),
    };
  } catch (error) {
    if (error instanceof DpopRefusal) throw error;
    throw new DpopRefusal("jwk does not import");
  }
}

function decoded(segment: string, what: string): Uint8Array {
  try {
    return base64url.decode(segment);
  } catch {
    throw new DpopRefusal(`${what} is not base64url`);
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
