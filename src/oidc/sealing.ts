/**
 * Sealing with AES-256-GCM (WebCrypto): the IdP's tokens at rest in the session object,
 * and the login transaction in its cookie. The key is derived with HKDF from
 * OIDC_SEALING_SECRET and a purpose label, so one seal can never be opened as the other;
 * the additional data binds a seal to where it belongs (a cookie name, a session id).
 *
 * Format: `v1.<iv>.<ciphertext>`, base64url. Changing the secret makes old seals unreadable,
 * unless the old one is kept as OIDC_SEALING_SECRET_PREVIOUS (`unsealWithAny`); a session's
 * seal opened that way is sealed anew with the current secret at its next refresh.
 */
import { base64url } from "jose";
import type { SealingSecrets } from "../config/config";

export type SealPurpose = "idp-tokens" | "login-transaction";

const keys = new Map<string, Promise<CryptoKey>>();
const encoder = new TextEncoder();

function keyFor(secret: string, purpose: SealPurpose): Promise<CryptoKey> {
  const id = `${purpose}\u0000${secret}`;
  let key = keys.get(id);
  if (key === undefined) {
    key = (async () => {
      const material = await crypto.subtle.importKey("raw", encoder.encode(secret), "HKDF", false, ["deriveKey"]);
      return crypto.subtle.deriveKey(
        { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: encoder.encode(`portcullis ${purpose}`) },
        material,
        { name: "AES-GCM", length: 256 },
        false,
        ["encrypt", "decrypt"],
      );
    })();
    keys.set(id, key);
  }
  return key;
}

/** Seal a JSON value, bound to `context`. */
export async function seal(secret: string, purpose: SealPurpose, context: string, value: unknown): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const data = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: encoder.encode(context) },
    await keyFor(secret, purpose),
    encoder.encode(JSON.stringify(value)),
  );
  return `v1.${base64url.encode(iv)}.${base64url.encode(new Uint8Array(data))}`;
}

/** Open a seal made for `context`; undefined when it is not one (forged, altered, other key). */
export async function unseal(
  secret: string,
  purpose: SealPurpose,
  context: string,
  sealed: string,
): Promise<unknown | undefined> {
  const [version, iv, data, extra] = sealed.split(".");
  if (version !== "v1" || !iv || !data || extra !== undefined) return undefined;
  try {
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: base64url.decode(iv), additionalData: encoder.encode(context) },
      await keyFor(secret, purpose),
      base64url.decode(data),
    );
    return JSON.parse(new TextDecoder().decode(plain));
  } catch {
    return undefined;
  }
}

/** What a seal held, and whether the previous secret opened it (to be sealed anew with the current one). */
export interface Opened {
  readonly value: unknown;
  readonly byPrevious: boolean;
}

/** Open a seal with the current secret, else with the previous one, saying which opened it. */
export async function unsealNoting(
  secrets: SealingSecrets,
  purpose: SealPurpose,
  context: string,
  sealed: string,
): Promise<Opened | undefined> {
  const opened = await unseal(secrets.current, purpose, context, sealed);
  if (opened !== undefined) return { value: opened, byPrevious: false };
  if (secrets.previous === undefined) return undefined;
  const old = await unseal(secrets.previous, purpose, context, sealed);
  return old === undefined ? undefined : { value: old, byPrevious: true };
}

/** Open a seal with the current secret, else with the previous one (a rotation in progress). */
export async function unsealWithAny(
  secrets: SealingSecrets,
  purpose: SealPurpose,
  context: string,
  sealed: string,
): Promise<unknown | undefined> {
  return (await unsealNoting(secrets, purpose, context, sealed))?.value;
}
