/**
 * The public key of a `private_key_jwt` service client (RFC 7523 §2.2): checked when the
 * operator registers it, and the one algorithm its assertions must use. Pure.
 *
 * Taken: EC P-256 (ES256), OKP Ed25519 (EdDSA), RSA of 2048 bits or more (RS256, or PS256
 * when the key says so). Refused: anything holding a private member, symmetric keys, other
 * curves, a `use` other than `sig`, an `alg` that does not fit the key.
 */
import type { JWK } from "jose";
import type { Checked } from "./service-client-record";

export type ClientKeyAlgorithm = "ES256" | "EdDSA" | "RS256" | "PS256";

/** A registered key: its public members only, and the algorithm its assertions use. */
export interface ClientKey {
  readonly jwk: JWK;
  readonly alg: ClientKeyAlgorithm;
}

const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const MIN_RSA_MODULUS_BYTES = 256;

const refuse = (reason: string): { ok: false; reason: string } => ({ ok: false, reason });

function member(jwk: Record<string, unknown>, name: string, length?: number): string | undefined {
  const value = jwk[name];
  if (typeof value !== "string" || !BASE64URL.test(value)) return undefined;
  if (length !== undefined && value.length !== length) return undefined;
  return value;
}

/** `jwk` as the operator sent it → the key to store, or why it is refused. */
export function checkClientKey(jwk: unknown): Checked<ClientKey> {
  if (typeof jwk !== "object" || jwk === null || Array.isArray(jwk)) return refuse('"jwk" must be a JSON Web Key');
  const key = jwk as Record<string, unknown>;
  if (PRIVATE_MEMBERS.some((name) => name in key)) {
    return refuse('"jwk" holds a private or secret member: register the public key only');
  }
  if (key.use !== undefined && key.use !== "sig") return refuse('"jwk" use must be "sig"');
  const alg = key.alg;
  if (key.kty === "EC") {
    const x = member(key, "x", 43);
    const y = member(key, "y", 43);
    if (key.crv !== "P-256" || x === undefined || y === undefined) return refuse('"jwk": an EC key must be P-256');
    if (alg !== undefined && alg !== "ES256") return refuse('"jwk": a P-256 key signs with ES256');
    return { ok: true, value: { jwk: { kty: "EC", crv: "P-256", x, y }, alg: "ES256" } };
  }
  if (key.kty === "OKP") {
    const x = member(key, "x", 43);
    if (key.crv !== "Ed25519" || x === undefined) return refuse('"jwk": an OKP key must be Ed25519');
    if (alg !== undefined && alg !== "EdDSA" && alg !== "Ed25519")
      return refuse('"jwk": an Ed25519 key signs with EdDSA');
    return { ok: true, value: { jwk: { kty: "OKP", crv: "Ed25519", x }, alg: "EdDSA" } };
  }
  if (key.kty === "RSA") {
    const n = member(key, "n");
    const e = member(key, "e");
    if (n === undefined || e === undefined) return refuse('"jwk": an RSA key needs "n" and "e"');
    if (Math.floor((n.length * 3) / 4) < MIN_RSA_MODULUS_BYTES)
      return refuse('"jwk": an RSA key of 2048 bits at least');
    if (alg !== undefined && alg !== "RS256" && alg !== "PS256")
      return refuse('"jwk": an RSA key signs with RS256 or PS256');
    return { ok: true, value: { jwk: { kty: "RSA", n, e }, alg: alg === "PS256" ? "PS256" : "RS256" } };
  }
  return refuse('"jwk" must be an EC P-256, Ed25519 or RSA public key');
}
