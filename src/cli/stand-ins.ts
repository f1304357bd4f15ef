/**
 * Stand-ins for what `portcullis check` cannot or must not read: a value for each secret
 * whose name is set (fresh keys made with jose, random strings of a secret's length), and
 * an object of the right kind for each declared binding (a KV namespace has `get`, a
 * Durable Object namespace `idFromName`, a rate limiter `limit`: what config/bindings.ts
 * checks). A stand-in passes every check a real value of its kind passes, so what the check
 * refuses is the configuration itself. Stand-ins are never printed, and their methods throw.
 */
import { exportJWK, generateKeyPair, type JWK } from "jose";
import { SECRET_NAMES, SETTING_NAMES } from "../config/env";
import type { BindingKind } from "./wrangler-project";

const SECRETS: ReadonlySet<string> = new Set(SECRET_NAMES);
const SETTINGS: ReadonlySet<string> = new Set(SETTING_NAMES);

/** The kid of the stand-in signing key, unless ACTIVE_SIGNING_KID names one (it would then fall back). */
const STAND_IN_KID = "portcullis-check-stand-in";

function randomSecret(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
}

async function freshKey(alg: "EdDSA" | "ES256", kid: string): Promise<{ privateJwk: JWK; publicJwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair(alg, {
    extractable: true,
    ...(alg === "EdDSA" ? { crv: "Ed25519" } : {}),
  });
  const meta = { kid, alg, use: "sig" };
  return {
    privateJwk: { ...(await exportJWK(privateKey)), ...meta },
    publicJwk: { ...(await exportJWK(publicKey)), ...meta },
  };
}

export interface SecretStandIns {
  /** A stand-in value for each secret name Portcullis reads (and for the app's own secrets). */
  readonly values: Readonly<Record<string, string>>;
  /** Names set as secrets that are a Portcullis var: their value cannot be stood in for. */
  readonly unreadable: readonly string[];
}

/**
 * A value for each secret name that passes the Worker's checks of that secret: SIGNING_KEYS
 * a fresh Ed25519 key (its kid ACTIVE_SIGNING_KID's, when that var names one), the retired
 * keys a fresh public key, the OIDC client key a fresh ES256 key, every other secret a
 * random 43-character string. A name that is not Portcullis's gets a random string too, so
 * that near misses among secrets are reported as among vars.
 */
export async function standInSecrets(
  names: readonly string[],
  vars: Readonly<Record<string, unknown>>,
): Promise<SecretStandIns> {
  const values: Record<string, string> = {};
  const unreadable: string[] = [];
  const activeKid = typeof vars.ACTIVE_SIGNING_KID === "string" ? vars.ACTIVE_SIGNING_KID.trim() : "";
  for (const name of names) {
    if (name === "SIGNING_KEYS") {
      values[name] = JSON.stringify([(await freshKey("EdDSA", activeKid || STAND_IN_KID)).privateJwk]);
    } else if (name === "SIGNING_KEYS_PREVIOUS") {
      values[name] = JSON.stringify([(await freshKey("EdDSA", `${STAND_IN_KID}-previous`)).publicJwk]);
    } else if (name === "OIDC_CLIENT_PRIVATE_KEY") {
      values[name] = JSON.stringify((await freshKey("ES256", `${STAND_IN_KID}-client`)).privateJwk);
    } else if (SECRETS.has(name) || !SETTINGS.has(name)) {
      values[name] = randomSecret();
    } else {
      unreadable.push(name);
    }
  }
  return { values, unreadable };
}

function unusable(): never {
  throw new Error("a stand-in binding of portcullis check cannot be used");
}

/** The methods a binding of each kind offers, as far as the checks look (typeof … === "function"). */
const METHODS: Readonly<Record<BindingKind, readonly string[]>> = {
  kv: ["get", "getWithMetadata", "put", "list", "delete"],
  "durable-object": ["idFromName", "idFromString", "newUniqueId", "get", "getByName"],
  "rate-limit": ["limit"],
  service: ["fetch", "connect"],
  "analytics-engine": ["writeDataPoint"],
  other: [],
};

/** An object shaped like a binding of `kind`, whose methods throw. */
export function standInBinding(kind: BindingKind): object {
  return Object.freeze(Object.fromEntries(METHODS[kind].map((method) => [method, unusable])));
}
