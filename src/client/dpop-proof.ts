/**
 * DPoP proofs (RFC 9449 §4): a compact JWS, ES256, assembled by hand, because the SDK
 * has no dependencies. WebCrypto's ECDSA signature is already the raw `r || s` that JWS
 * ES256 uses (RFC 7518 §3.4), so it is base64url-encoded as is.
 *
 * Header: `typ: "dpop+jwt"`, `alg: "ES256"`, `jwk`: the public key.
 * Claims: `jti` (random), `htm`, `htu` (origin and path of the request, no query or
 * fragment), `iat`, `ath` when an access token goes with the request, `nonce` when the
 * gateway handed one out.
 */
import { encodeBase64Url, encodeBase64UrlText, sha256Base64Url } from "./base64url";
import type { DpopKey } from "./dpop-key";

export interface DpopProofInput {
  /** The request method, exactly as sent (`htm`). */
  readonly method: string;
  /** The request URL; only its origin and path are signed (`htu`). */
  readonly url: string | URL;
  /** Seconds since the epoch (`iat`). */
  readonly issuedAt: number;
  /** `ath` is this token's SHA-256 hash, base64url (give either, not both). */
  readonly accessToken?: string;
  readonly accessTokenHash?: string;
  /** The gateway's last `DPoP-Nonce`. */
  readonly nonce?: string;
  /** Default `crypto.randomUUID()`. */
  readonly jti?: string;
}

/** `htu`: the request URL without query and fragment (RFC 9449 §4.2). */
export function proofTarget(url: string | URL): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
}

/** `ath`: base64url(SHA-256(the access token's ASCII)). */
export function accessTokenHash(accessToken: string, subtle: SubtleCrypto = crypto.subtle): Promise<string> {
  return sha256Base64Url(accessToken, subtle);
}

/** A signed proof for one request. */
export async function createDpopProof(
  key: DpopKey,
  input: DpopProofInput,
  subtle: SubtleCrypto = crypto.subtle,
): Promise<string> {
  const ath =
    input.accessTokenHash ??
    (input.accessToken === undefined ? undefined : await accessTokenHash(input.accessToken, subtle));
  const header = { typ: "dpop+jwt", alg: "ES256", jwk: key.publicJwk };
  const claims = {
    jti: input.jti ?? crypto.randomUUID(),
    htm: input.method,
    htu: proofTarget(input.url),
    iat: Math.floor(input.issuedAt),
    ...(ath === undefined ? {} : { ath }),
    ...(input.nonce === undefined ? {} : { nonce: input.nonce }),
  };
  const signingInput = `${encodeBase64UrlText(JSON.stringify(header))}.${encodeBase64UrlText(JSON.stringify(claims))}`;
  const signature = await subtle.sign(
    { name: "ECDSA", hash: "SHA-256" },
    key.privateKey,
    new TextEncoder().encode(signingInput),
  );
  return `${signingInput}.${encodeBase64Url(new Uint8Array(signature))}`;
}
