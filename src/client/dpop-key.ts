/**
 * The client's DPoP key (RFC 9449): one ECDSA P-256 key pair per gateway origin, made with
 * `extractable: false`, so no script (not even one injected into the page) can copy the
 * private key out; it can only ask the browser to sign with it. Tokens the gateway binds
 * to the key's thumbprint are worth nothing without it.
 *
 * The pair is kept in a {@link DpopKeyStore}: in a browser IndexedDB (see
 * dpop-key-store.ts), so the key survives reloads and every tab of the origin signs with
 * the same one (a session is bound to one key; a tab with another key could not refresh
 * it). Where there is no IndexedDB (Node), in memory.
 */
import { sha256Base64Url } from "./base64url";

/** The public half as a JWK: exactly the members RFC 7638 hashes for an EC key. */
export interface DpopPublicJwk {
  readonly kty: "EC";
  readonly crv: "P-256";
  readonly x: string;
  readonly y: string;
}

/** A key ready to sign proofs. */
export interface DpopKey {
  readonly privateKey: CryptoKey;
  readonly publicJwk: DpopPublicJwk;
  /** RFC 7638 SHA-256 thumbprint of `publicJwk`: what the gateway puts in `cnf.jkt`. */
  readonly thumbprint: string;
}

/**
 * Where key pairs are kept, by gateway origin. `keep` must be atomic across every client
 * sharing the store (tabs, workers): of two pairs kept for one origin at once, both
 * callers get the same one.
 */
export interface DpopKeyStore {
  /** The pair kept for `origin`, if any. */
  get(origin: string): Promise<CryptoKeyPair | undefined>;
  /** Keep `pair` for `origin` unless a usable pair is kept already; resolves to the pair kept. */
  keep(origin: string, pair: CryptoKeyPair): Promise<CryptoKeyPair>;
}

const ALGORITHM = { name: "ECDSA", namedCurve: "P-256" } as const;

function isEcdsaP256(key: unknown, type: "public" | "private"): key is CryptoKey {
  if (typeof key !== "object" || key === null) return false;
  const candidate = key as { type?: unknown; algorithm?: { name?: unknown; namedCurve?: unknown } };
  return candidate.type === type && candidate.algorithm?.name === "ECDSA" && candidate.algorithm.namedCurve === "P-256";
}

/** True for what a store may hand back as a key pair: an ECDSA P-256 pair of CryptoKeys. */
export function isDpopKeyPair(value: unknown): value is CryptoKeyPair {
  if (typeof value !== "object" || value === null) return false;
  const pair = value as { privateKey?: unknown; publicKey?: unknown };
  return isEcdsaP256(pair.privateKey, "private") && isEcdsaP256(pair.publicKey, "public");
}

/** Key pairs in this object only: for Node, tests, and anywhere without IndexedDB. */
export function memoryKeyStore(): DpopKeyStore {
  const pairs = new Map<string, CryptoKeyPair>();
  return {
    get: async (origin) => pairs.get(origin),
    keep: async (origin, pair) => {
      const kept = pairs.get(origin);
      if (kept !== undefined) return kept;
      pairs.set(origin, pair);
      return pair;
    },
  };
}

/** A new non-extractable ECDSA P-256 pair (the public half is always exportable). */
export async function generateDpopKeyPair(subtle: SubtleCrypto = crypto.subtle): Promise<CryptoKeyPair> {
  return (await subtle.generateKey(ALGORITHM, false, ["sign", "verify"])) as CryptoKeyPair;
}

/** RFC 7638: SHA-256 over the required members in lexicographic order, no whitespace. */
export function jwkThumbprint(jwk: DpopPublicJwk, subtle: SubtleCrypto = crypto.subtle): Promise<string> {
  return sha256Base64Url(`{"crv":"${jwk.crv}","kty":"${jwk.kty}","x":"${jwk.x}","y":"${jwk.y}"}`, subtle);
}

async function toDpopKey(pair: CryptoKeyPair, subtle: SubtleCrypto): Promise<DpopKey> {
  const exported = (await subtle.exportKey("jwk", pair.publicKey)) as { x?: unknown; y?: unknown };
  if (typeof exported.x !== "string" || typeof exported.y !== "string") {
    throw new TypeError("the public key exported without x and y");
  }
  // Only the public members, whatever else the platform adds (key_ops, ext).
  const publicJwk: DpopPublicJwk = { kty: "EC", crv: "P-256", x: exported.x, y: exported.y };
  return { privateKey: pair.privateKey, publicJwk, thumbprint: await jwkThumbprint(publicJwk, subtle) };
}

/**
 * The key for `origin`: the one kept in `store`, or a new one kept there first. Two
 * callers at once (two tabs loading) end up with the same key: each may generate one,
 * but `keep` lets only the first be kept and hands it to both.
 */
export async function obtainDpopKey(
  origin: string,
  store: DpopKeyStore,
  subtle: SubtleCrypto = crypto.subtle,
): Promise<DpopKey> {
  const found = await store.get(origin);
  if (isDpopKeyPair(found)) return toDpopKey(found, subtle);
  const kept = await store.keep(origin, await generateDpopKeyPair(subtle));
  return toDpopKey(kept, subtle);
}
