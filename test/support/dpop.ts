/**
 * DPoP (RFC 9449) on the client's side, for tests: key pairs, proofs signed with any header
 * and claims (including the malformed ones an attacker would send), `ath` and key thumbprints.
 *
 *   const key = await makeDpopKey("ES256");
 *   const proof = await signProof(key, { htm: "GET", htu: `${gateway.url}/api/items`, ath: accessTokenHash(token) });
 *   await gateway.fetch("/api/items", { headers: { authorization: `DPoP ${token}`, dpop: proof } });
 *
 * Proofs are put together by hand (base64url header and payload, then WebCrypto's signature)
 * rather than through jose's builders, so a test can send exactly the header, payload text
 * or signature it wants: `alg: none`, a private `jwk`, a payload that is not JSON, another
 * key's signature. The well-formed ones are what jose's CompactSign would produce.
 */
import { createHash, randomUUID } from "node:crypto";
import { base64url, calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from "jose";

/** The proof algorithms the helpers sign with. */
export type DpopAlgorithm = "ES256" | "EdDSA" | "RS256" | "PS256";

export interface DpopKey {
  readonly alg: DpopAlgorithm;
  readonly privateKey: CryptoKey;
  /** The public JWK a proof embeds (kty and key members only, as RFC 9449 §4.2 expects). */
  readonly publicJwk: JWK;
  /** The private JWK, for the attacks that embed it. */
  readonly privateJwk: JWK;
  /** RFC 7638 SHA-256 thumbprint of the public key: the `cnf.jkt` a bound token carries. */
  readonly thumbprint: string;
}

export interface DpopKeyOptions {
  /** RSA modulus length in bits (default 2048); 1024 makes the too-small key the gateway refuses. */
  readonly modulusLength?: number;
}

const RSA_EXPONENT = new Uint8Array([1, 0, 1]);

/** The members of a JWK that describe the public key, nothing else (no kid, alg, use). */
function publicMembers(jwk: JWK): JWK {
  const { kty, crv, x, y, n, e } = jwk;
  return Object.fromEntries(Object.entries({ kty, crv, x, y, n, e }).filter(([, value]) => value !== undefined)) as JWK;
}

/** A fresh key pair for proofs; RSA keys of any size through WebCrypto, which jose would refuse below 2048 bits. */
export async function makeDpopKey(alg: DpopAlgorithm, options: DpopKeyOptions = {}): Promise<DpopKey> {
  let pair: CryptoKeyPair;
  if ((alg === "RS256" || alg === "PS256") && options.modulusLength !== undefined) {
    pair = (await crypto.subtle.generateKey(
      {
        name: alg === "RS256" ? "RSASSA-PKCS1-v1_5" : "RSA-PSS",
        modulusLength: options.modulusLength,
        publicExponent: RSA_EXPONENT,
        hash: "SHA-256",
      },
      true,
      ["sign", "verify"],
    )) as CryptoKeyPair;
  } else {
    pair = (await generateKeyPair(alg, {
      extractable: true,
      ...(alg === "EdDSA" ? { crv: "Ed25519" } : {}),
    })) as CryptoKeyPair;
  }
  const publicJwk = publicMembers(await exportJWK(pair.publicKey));
  const privateJwk = await exportJWK(pair.privateKey);
  return {
    alg,
    privateKey: pair.privateKey,
    publicJwk,
    privateJwk,
    thumbprint: await calculateJwkThumbprint(publicJwk, "sha256"),
  };
}

/** RFC 9449 §4.2 `ath`: base64url(SHA-256(the access token's ASCII)). */
export function accessTokenHash(accessToken: string): string {
  return createHash("sha256").update(accessToken, "ascii").digest("base64url");
}

/** RFC 7638 SHA-256 thumbprint of a JWK (only its required members count). */
export function jwkThumbprint(jwk: JWK): Promise<string> {
  return calculateJwkThumbprint(jwk, "sha256");
}

/** WebCrypto's parameters for signing with a JWS algorithm (raw r‖s for ECDSA, as JWS wants). */
function signatureAlgorithm(alg: string): Parameters<typeof crypto.subtle.sign>[0] {
  switch (alg) {
    case "ES256":
      return { name: "ECDSA", hash: "SHA-256" };
    case "EdDSA":
    case "Ed25519":
      return { name: "Ed25519" };
    case "RS256":
      return { name: "RSASSA-PKCS1-v1_5" };
    case "PS256":
      return { name: "RSA-PSS", saltLength: 32 };
    case "HS256":
      return { name: "HMAC" };
    default:
      throw new Error(`no signing parameters for ${alg}`);
  }
}

/** Signs `header.payload` with a key: its JWS signature segment. */
export async function signatureOf(alg: string, key: CryptoKey, signingInput: string): Promise<string> {
  const signature = await crypto.subtle.sign(signatureAlgorithm(alg), key, new TextEncoder().encode(signingInput));
  return base64url.encode(new Uint8Array(signature));
}

/** A compact JWS of exactly this header and payload text, signed with `key` under `alg` (or unsigned). */
export async function compactJws(
  header: Record<string, unknown>,
  payloadText: string,
  signer: { alg: string; key: CryptoKey } | "unsigned",
): Promise<string> {
  const signingInput = `${base64url.encode(JSON.stringify(header))}.${base64url.encode(payloadText)}`;
  if (signer === "unsigned") return `${signingInput}.`;
  return `${signingInput}.${await signatureOf(signer.alg, signer.key, signingInput)}`;
}

export interface ProofOptions {
  /** The request's method. */
  readonly htm: string;
  /** The request's URI, as the proof states it. */
  readonly htu: string;
  /** The access token the proof goes with: `ath` is its hash. */
  readonly accessToken?: string;
  /** A server nonce (`DPoP-Nonce`). */
  readonly nonce?: string;
  /** Seconds since the epoch (default now). */
  readonly iat?: number;
  /** Default: a fresh UUID. */
  readonly jti?: string;
  /** Claims to add or replace; a value `undefined` removes the claim. */
  readonly claims?: Record<string, unknown>;
  /** Header members to add or replace; a value `undefined` removes the member. */
  readonly header?: Record<string, unknown>;
  /** The payload text as sent, instead of the claims' JSON (e.g. something that is not JSON). */
  readonly payloadText?: string;
  /**
   * Sign with this instead of the embedded key (its own algorithm, whatever the header says):
   * another key pair, a raw key under a named algorithm (HS256), or no signature at all.
   */
  readonly signWith?: DpopKey | { readonly alg: string; readonly key: CryptoKey } | "unsigned";
}

function withoutUndefined(members: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(members).filter(([, value]) => value !== undefined));
}

/** The claims a well-formed proof carries, before a test's changes. */
export function proofClaims(options: ProofOptions): Record<string, unknown> {
  return withoutUndefined({
    jti: options.jti ?? randomUUID(),
    htm: options.htm,
    htu: options.htu,
    iat: options.iat ?? Math.floor(Date.now() / 1000),
    ...(options.accessToken !== undefined ? { ath: accessTokenHash(options.accessToken) } : {}),
    ...(options.nonce !== undefined ? { nonce: options.nonce } : {}),
    ...options.claims,
  });
}

/**
 * A DPoP proof by `key`: `typ` dpop+jwt, the key's `alg`, its public `jwk`, and the claims
 * RFC 9449 §4.2 names. Every part can be changed or removed through the options.
 */
export async function signProof(key: DpopKey, options: ProofOptions): Promise<string> {
  const header = withoutUndefined({ typ: "dpop+jwt", alg: key.alg, jwk: key.publicJwk, ...options.header });
  const payloadText = options.payloadText ?? JSON.stringify(proofClaims(options));
  const signWith = options.signWith ?? key;
  const signer =
    signWith === "unsigned"
      ? signWith
      : "privateKey" in signWith
        ? { alg: signWith.alg, key: signWith.privateKey }
        : signWith;
  return compactJws(header, payloadText, signer);
}

/** An HMAC key for the HS256 proof (a symmetric `jwk`), with its JWK. */
export async function makeSymmetricKey(): Promise<{ key: CryptoKey; jwk: JWK }> {
  const key = (await crypto.subtle.generateKey({ name: "HMAC", hash: "SHA-256", length: 256 }, true, [
    "sign",
    "verify",
  ])) as CryptoKey;
  const { kty, k } = await exportJWK(key);
  return { key, jwk: { kty, k } };
}

export interface Challenge {
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

/**
 * The challenges of a `WWW-Authenticate` value (RFC 9110 §11.6.1), e.g.
 * `Bearer realm="x", DPoP realm="x", error="invalid_dpop_proof", algs="ES256 EdDSA"`.
 * Parameter names are lower-cased; quoted strings unescaped.
 */
export function parseChallenges(header: string | null): Challenge[] {
  const challenges: { scheme: string; params: Record<string, string> }[] = [];
  if (header === null) return challenges;
  let position = 0;
  const token = /[!#$%&'*+.^_`|~0-9A-Za-z-]+/y;
  const skip = (pattern: RegExp) => {
    while (position < header.length && pattern.test(header.charAt(position))) position += 1;
  };
  while (position < header.length) {
    skip(/[\s,]/);
    token.lastIndex = position;
    const name = token.exec(header)?.[0];
    if (name === undefined) break;
    position += name.length;
    skip(/\s/);
    if (header.charAt(position) !== "=") {
      challenges.push({ scheme: name, params: {} });
      continue;
    }
    position += 1;
    skip(/\s/);
    let value = "";
    if (header.charAt(position) === '"') {
      position += 1;
      while (position < header.length && header.charAt(position) !== '"') {
        if (header.charAt(position) === "\\") position += 1;
        value += header.charAt(position);
        position += 1;
      }
      position += 1;
    } else {
      token.lastIndex = position;
      value = token.exec(header)?.[0] ?? "";
      position += value.length;
      // token68 (`=` padding) belongs to the scheme, not to a parameter; not used by either scheme here.
    }
    const current = challenges.at(-1);
    if (current !== undefined) current.params[name.toLowerCase()] = value;
  }
  return challenges;
}

/** The challenge of one scheme (case-insensitive), if the header has it. */
export function challengeOf(header: string | null, scheme: string): Challenge | undefined {
  return parseChallenges(header).find((challenge) => challenge.scheme.toLowerCase() === scheme.toLowerCase());
}
