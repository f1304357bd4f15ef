/**
 * The gateway's own signing keys: SIGNING_KEYS (private; one of them signs),
 * SIGNING_KEYS_PREVIOUS (the public halves of retired keys: they verify and stay published
 * until deleted, never sign) and ACTIVE_SIGNING_KID.
 *
 * The rotation these serve (docs/operations.md, "Rotating the signing key") never needs a
 * private key Cloudflare will not show again: the retired key's public half is copied
 * from /.well-known/jwks.json, and the new key goes into SIGNING_KEYS alone. Each setting
 * deploys on its own, so every state between two steps must serve: a kid in both secrets
 * is fine when it is the same key, and an ACTIVE_SIGNING_KID that names no key of
 * SIGNING_KEYS falls back to the first one (logged at error level by the key ring) rather
 * than refuse every request.
 */
import type { JWK } from "jose";
import { PRIVATE_JWK_MEMBERS } from "../schema/jwk-members";
import { unknownKey } from "../schema/known-keys";
import type { GatewayMode } from "./config";
import { DEV_SIGNING_KEY } from "./dev-keys";
import type { ConfigEnv } from "./env";
import { ConfigError, json, text } from "./env-readers";

/** The algorithms of our own keys (and of VERIFY_JWKS). */
export const SIGNING_ALGORITHMS: ReadonlySet<string> = new Set(["EdDSA", "ES256", "RS256"]);

/** The members a public key of each algorithm must have, and nothing private. */
const PUBLIC_MEMBERS: Readonly<Record<string, { kty: string; crv?: string; members: readonly string[] }>> = {
  EdDSA: { kty: "OKP", crv: "Ed25519", members: ["x"] },
  ES256: { kty: "EC", crv: "P-256", members: ["x", "y"] },
  RS256: { kty: "RSA", members: ["n", "e"] },
};
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] as const;

export interface OwnKeys {
  readonly signingKeys: readonly JWK[];
  readonly previousSigningKeys: readonly JWK[];
  readonly activeSigningKid: string | undefined;
  readonly activeSigningKidFallback: string | undefined;
}

/** A JSON array of JWKs, or a JWKS (`{"keys": [...]}`, as /.well-known/jwks.json answers). */
function keyList(env: ConfigEnv, name: "SIGNING_KEYS" | "SIGNING_KEYS_PREVIOUS", what: string): unknown[] | undefined {
  const raw = json(env, name);
  if (raw === undefined) return undefined;
  const keys = Array.isArray(raw) ? raw : (raw as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0) {
    throw new ConfigError(name, `must be a JSON array of ${what} (or {"keys": [...]})`);
  }
  return keys;
}

function isDevKey(jwk: JWK): boolean {
  return jwk.kid === DEV_SIGNING_KEY.kid || jwk.x === DEV_SIGNING_KEY.x;
}

function parseSigningKeys(env: ConfigEnv, mode: GatewayMode): JWK[] {
  const keys = keyList(env, "SIGNING_KEYS", "private JWKs");
  if (keys === undefined) return mode === "development" ? [{ ...DEV_SIGNING_KEY }] : [];
  const seen = new Set<string>();
  return keys.map((key: unknown, index) => {
    const jwk = key as JWK;
    if (typeof jwk !== "object" || jwk === null || typeof jwk.kid !== "string" || jwk.kid === "") {
      throw new ConfigError("SIGNING_KEYS", `key ${index} needs a "kid"`);
    }
    const unknown = unknownKey(jwk, PRIVATE_JWK_MEMBERS);
    if (unknown !== undefined) throw new ConfigError("SIGNING_KEYS", `key ${index} (${jwk.kid}) ${unknown}`);
    if (typeof jwk.alg !== "string" || !SIGNING_ALGORITHMS.has(jwk.alg)) {
      throw new ConfigError("SIGNING_KEYS", `key ${index} needs "alg" of EdDSA, ES256 or RS256`);
    }
    if (typeof jwk.d !== "string") throw new ConfigError("SIGNING_KEYS", `key ${index} is not a private key`);
    if (seen.has(jwk.kid)) throw new ConfigError("SIGNING_KEYS", `kid "${jwk.kid}" appears twice`);
    seen.add(jwk.kid);
    if (mode === "production" && (jwk.kid === DEV_SIGNING_KEY.kid || jwk.d === DEV_SIGNING_KEY.d)) {
      throw new ConfigError("SIGNING_KEYS", "holds the development-only key; run `npm run keygen` for a real one");
    }
    return Object.freeze({ ...jwk });
  });
}

/** Do two JWKs hold the same public key? */
function samePublicKey(a: JWK, b: JWK): boolean {
  const shape = PUBLIC_MEMBERS[a.alg ?? ""];
  if (shape === undefined || a.alg !== b.alg || a.kty !== b.kty || a.crv !== b.crv) return false;
  return shape.members.every((member) => a[member as keyof JWK] === b[member as keyof JWK]);
}

/**
 * SIGNING_KEYS_PREVIOUS: public keys only (a retired key verifies, it never signs again),
 * each with its kid and algorithm. A key that is also in SIGNING_KEYS (the first step of
 * a rotation copies the JWKS while the key still signs) is left to SIGNING_KEYS.
 */
function parsePreviousKeys(env: ConfigEnv, mode: GatewayMode, signingKeys: readonly JWK[]): JWK[] {
  const NAME = "SIGNING_KEYS_PREVIOUS";
  const keys = keyList(env, NAME, "public JWKs, as /.well-known/jwks.json publishes them");
  if (keys === undefined) return [];
  const seen = new Set<string>();
  const previous: JWK[] = [];
  for (const [index, key] of keys.entries()) {
    const jwk = key as JWK;
    if (typeof jwk !== "object" || jwk === null || typeof jwk.kid !== "string" || jwk.kid === "") {
      throw new ConfigError(NAME, `key ${index} needs a "kid"`);
    }
    // Known private members are named as such below; anything else is a mistake.
    const unknown = unknownKey(jwk, PRIVATE_JWK_MEMBERS);
    if (unknown !== undefined) throw new ConfigError(NAME, `key ${index} (${jwk.kid}) ${unknown}`);
    const shape = typeof jwk.alg === "string" ? PUBLIC_MEMBERS[jwk.alg] : undefined;
    if (shape === undefined) throw new ConfigError(NAME, `key ${index} needs "alg" of EdDSA, ES256 or RS256`);
    if (PRIVATE_MEMBERS.some((member) => member in jwk)) {
      throw new ConfigError(
        NAME,
        `key ${index} is a private key: a retired key only verifies; give its public half (from /.well-known/jwks.json)`,
      );
    }
    const wellFormed =
      jwk.kty === shape.kty &&
      (shape.crv === undefined || jwk.crv === shape.crv) &&
      shape.members.every((member) => typeof jwk[member as keyof JWK] === "string");
    if (!wellFormed) throw new ConfigError(NAME, `key ${index} is not a public ${jwk.alg} key`);
    if (jwk.use !== undefined && jwk.use !== "sig") throw new ConfigError(NAME, `key ${index} is not for "sig"`);
    if (seen.has(jwk.kid)) throw new ConfigError(NAME, `kid "${jwk.kid}" appears twice`);
    seen.add(jwk.kid);
    if (mode === "production" && isDevKey(jwk)) {
      throw new ConfigError(NAME, "holds the development-only key, which anyone can sign with");
    }
    const current = signingKeys.find((signing) => signing.kid === jwk.kid);
    if (current !== undefined) {
      if (!samePublicKey(current, jwk)) {
        throw new ConfigError(NAME, `kid "${jwk.kid}" is also in SIGNING_KEYS, with another key`);
      }
      continue;
    }
    previous.push(Object.freeze({ ...jwk }));
  }
  return previous;
}

/** SIGNING_KEYS, SIGNING_KEYS_PREVIOUS and ACTIVE_SIGNING_KID, checked together. */
export function parseOwnKeys(env: ConfigEnv, mode: GatewayMode): OwnKeys {
  const signingKeys = parseSigningKeys(env, mode);
  const previousSigningKeys = parsePreviousKeys(env, mode, signingKeys);
  if (signingKeys.length === 0 && previousSigningKeys.length > 0) {
    throw new ConfigError("SIGNING_KEYS", "is required with SIGNING_KEYS_PREVIOUS, which only verifies retired keys");
  }
  const first = signingKeys[0]?.kid;
  const configured = text(env, "ACTIVE_SIGNING_KID");
  let activeSigningKid = configured ?? first;
  let activeSigningKidFallback: string | undefined;
  if (configured !== undefined && !signingKeys.some((key) => key.kid === configured)) {
    if (first === undefined) throw new ConfigError("ACTIVE_SIGNING_KID", "names a key, but SIGNING_KEYS holds none");
    activeSigningKid = first;
    activeSigningKidFallback = configured;
  }
  return {
    signingKeys: Object.freeze(signingKeys),
    previousSigningKeys: Object.freeze(previousSigningKeys),
    activeSigningKid,
    activeSigningKidFallback,
  };
}
