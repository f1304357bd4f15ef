/**
 * The keys Portcullis signs and verifies with, imported once per config.
 *
 * Sources, each with an explicit algorithm (RFC 8725 §3.1, never taken from a token):
 * - SIGNING_KEYS: our own private keys (one active); their public halves verify our tokens
 *   and are published at /.well-known/jwks.json.
 * - SIGNING_KEYS_PREVIOUS: public halves of retired keys of ours; they verify and are
 *   published like the above, until the rotation deletes them (docs/operations.md).
 * - VERIFY_JWKS: extra public keys (a local JWKS).
 * - JWKS_URL: a remote JWKS, fetched and cached (see remote-key-set.ts).
 * - ACCESS_SECRET: an HS256 shared secret, as in the seed design.
 * - TRUSTED_ISSUERS: other issuers, each with its own remote JWKS (trusted-issuers.ts);
 *   their keys verify only tokens that claim their `iss`, never the gateway's own. The one
 *   with `introspection` is asked about opaque tokens (token-introspection.ts).
 */
import { type CryptoKey, importJWK, type JWK, type JWTHeaderParameters } from "jose";
import type { GatewayConfig } from "../config/config";
import { GatewayError } from "../errors/gateway-error";
import { log } from "../log/logger";
import { algorithmForKey, type RemoteKeySet, remoteKeySetFor } from "./remote-key-set";
import { type IntrospectedIssuer, TokenIntrospection } from "./token-introspection";
import { TrustedIssuers } from "./trusted-issuers";
import type { VerificationKey } from "./verification-key";

export interface SigningKey {
  readonly key: CryptoKey | Uint8Array;
  readonly alg: string;
  readonly kid: string | undefined;
}

const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] as const;

/** The public half of a private JWK, as published in a JWKS. */
export function publicJwk(jwk: JWK): JWK {
  const copy: Record<string, unknown> = { ...jwk };
  for (const member of PRIVATE_MEMBERS) delete copy[member];
  delete copy.key_ops;
  copy.use = "sig";
  return copy as JWK;
}

export class KeyRing {
  readonly #byKid = new Map<string, VerificationKey>();
  readonly #withoutKid: VerificationKey[] = [];
  readonly #secret: VerificationKey | undefined;
  readonly #remote: RemoteKeySet | undefined;
  readonly signer: SigningKey | undefined;
  readonly publicJwks: { keys: JWK[] };
  /** TRUSTED_ISSUERS, by `iss`; undefined when none are configured (the common case costs one check). */
  readonly trusted: TrustedIssuers | undefined;
  /** The trusted issuer whose opaque tokens are introspected; undefined when none is. */
  readonly introspection: TokenIntrospection | undefined;

  private constructor(
    keys: VerificationKey[],
    secret: VerificationKey | undefined,
    remote: RemoteKeySet | undefined,
    signer: SigningKey | undefined,
    publicJwks: { keys: JWK[] },
    trusted: TrustedIssuers | undefined,
    introspection: TokenIntrospection | undefined,
  ) {
    for (const key of keys) {
      if (key.kid === undefined) this.#withoutKid.push(key);
      else if (!this.#byKid.has(key.kid)) this.#byKid.set(key.kid, key);
    }
    this.#secret = secret;
    this.#remote = remote;
    this.signer = signer;
    this.publicJwks = publicJwks;
    this.trusted = trusted;
    this.introspection = introspection;
  }

  static async create(config: GatewayConfig, fetcher: typeof fetch = fetch): Promise<KeyRing> {
    const keys: VerificationKey[] = [];
    let signer: SigningKey | undefined;
    const published: JWK[] = [];

    for (const jwk of config.signingKeys) {
      const alg = jwk.alg as string;
      const pub = publicJwk(jwk);
      keys.push({ key: (await importJWK(pub, alg)) as CryptoKey, alg, kid: jwk.kid, source: "signing-key" });
      published.push(pub);
      if (jwk.kid === config.activeSigningKid) {
        signer = { key: (await importJWK(jwk, alg)) as CryptoKey, alg, kid: jwk.kid };
      }
    }
    for (const jwk of config.previousSigningKeys) {
      const alg = jwk.alg as string;
      const pub = publicJwk(jwk);
      keys.push({ key: (await importJWK(pub, alg)) as CryptoKey, alg, kid: jwk.kid, source: "signing-key" });
      published.push(pub);
    }
    if (config.activeSigningKidFallback !== undefined) {
      // Not a refusal: SIGNING_KEYS (a secret) and ACTIVE_SIGNING_KID (a var) deploy apart,
      // and refusing would take every request down with them. Once per isolate.
      log.error("signing_key_fallback", {
        setting: "ACTIVE_SIGNING_KID",
        configured: config.activeSigningKidFallback,
        signingWith: config.activeSigningKid,
        detail: "ACTIVE_SIGNING_KID names no key of SIGNING_KEYS; the first key signs until it is fixed",
      });
    }
    for (const jwk of config.verifyJwks?.keys ?? []) {
      const alg = algorithmForKey(jwk);
      if (alg === undefined) continue;
      keys.push({ key: (await importJWK(jwk, alg)) as CryptoKey, alg, kid: jwk.kid, source: "verify-jwks" });
    }
    let secret: VerificationKey | undefined;
    if (config.accessSecret !== undefined) {
      // Imported once: jose would otherwise import the raw secret on every verification.
      const key = await crypto.subtle.importKey(
        "raw",
        new TextEncoder().encode(config.accessSecret),
        { name: "HMAC", hash: "SHA-256" },
        false,
        ["sign", "verify"],
      );
      secret = { key, alg: "HS256", kid: undefined, source: "access-secret" };
      // With no asymmetric key configured, Portcullis signs with the shared secret (the seed's HS256).
      signer ??= { key, alg: "HS256", kid: undefined };
    }
    const remoteOptions = {
      cacheSeconds: config.jwksCacheSeconds,
      cooldownSeconds: config.jwksCooldownSeconds,
      fetcher,
    };
    const remote = config.jwksUrl === undefined ? undefined : remoteKeySetFor(config.jwksUrl, remoteOptions);
    const trusted =
      config.trustedIssuers.length === 0 ? undefined : new TrustedIssuers(config.trustedIssuers, remoteOptions);
    const introspected = config.trustedIssuers.find(
      (issuer): issuer is IntrospectedIssuer => issuer.introspection !== undefined,
    );
    const introspection = introspected === undefined ? undefined : new TokenIntrospection(introspected, fetcher);
    return new KeyRing(keys, secret, remote, signer, { keys: published }, trusted, introspection);
  }

  /**
   * The key a token's header points at, or undefined when none may verify it.
   * The header chooses among configured keys only; `jwk`, `jku`, `x5u` are never followed.
   * Throws `keys_unavailable` when only the remote JWKS could know and it cannot be reached.
   */
  async resolve(header: JWTHeaderParameters, now: number): Promise<VerificationKey | undefined> {
    const { alg, kid } = header;
    if (alg === "HS256") return this.#secret;
    if (kid !== undefined) {
      const local = this.#byKid.get(kid);
      if (local !== undefined) return local.alg === alg ? local : undefined;
      const remote = await this.#remote?.get(kid, alg, now);
      return remote && remote.alg === alg ? remote : undefined;
    }
    const candidates = this.#withoutKid.filter((key) => key.alg === alg);
    if (candidates.length === 1) return candidates[0];
    if (candidates.length === 0 && this.#remote) return this.#remote.get(undefined, alg, now);
    return undefined;
  }

  /**
   * Does no configured key have this key id (the remote JWKS, if any, asked as `resolve`
   * does, within its cooldown)? A token of ours naming one was signed by a retired key.
   */
  async isUnknownKid(kid: string, now: number): Promise<boolean> {
    if (this.#byKid.has(kid)) return false;
    return this.#remote === undefined || (await this.#remote.get(kid, undefined, now)) === undefined;
  }
}

const rings = new WeakMap<GatewayConfig, Promise<KeyRing>>();

/** The key ring for a config, built once per isolate. */
export function keyRingFor(config: GatewayConfig): Promise<KeyRing> {
  let ring = rings.get(config);
  if (ring === undefined) {
    ring = KeyRing.create(config).catch((error: unknown) => {
      rings.delete(config);
      throw new GatewayError("misconfigured", { detail: "a configured key could not be imported", cause: error });
    });
    rings.set(config, ring);
  }
  return ring;
}
