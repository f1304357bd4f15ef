/**
 * The members a JSON Web Key in a setting may have (RFC 7517, RFC 7518, RFC 8037): the
 * private keys of SIGNING_KEYS and OIDC_CLIENT_PRIVATE_KEY, the public keys of
 * SIGNING_KEYS_PREVIOUS and VERIFY_JWKS. What WebCrypto's and jose's exports write
 * (`ext`, `key_ops`) is allowed; a misspelled member (`kyd`, `Alg`) is refused with the
 * nearest known one, as every structured setting's keys are (known-keys.ts).
 */
import type { KeyTable } from "./known-keys";

export const PUBLIC_JWK_MEMBERS: KeyTable = Object.freeze({
  kty: "key type: OKP (Ed25519), EC (P-256) or RSA",
  crv: "curve of an OKP or EC key",
  x: "public key (OKP), x coordinate (EC)",
  y: "y coordinate (EC)",
  n: "modulus (RSA)",
  e: "exponent (RSA)",
  kid: "key id: tokens name the key that signed them",
  alg: "the one algorithm the key is used with",
  use: '"sig"',
  key_ops: "what the key may do (written by WebCrypto exports)",
  ext: "extractable (written by WebCrypto exports)",
  x5c: "certificate chain",
  x5t: "certificate thumbprint (SHA-1)",
  "x5t#S256": "certificate thumbprint (SHA-256)",
});

export const PRIVATE_JWK_MEMBERS: KeyTable = Object.freeze({
  ...PUBLIC_JWK_MEMBERS,
  d: "private key (OKP, EC) or private exponent (RSA)",
  p: "first prime factor (RSA)",
  q: "second prime factor (RSA)",
  dp: "first factor CRT exponent (RSA)",
  dq: "second factor CRT exponent (RSA)",
  qi: "first CRT coefficient (RSA)",
});
