/**
 * Helpers for the DPoP browser tests (test/browser/dpop.test.ts): what the page's
 * IndexedDB holds, read by a script in the page, and an attacker in Node who holds a copy
 * of the page's token and a key of its own.
 */
import { base64url, calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";

/** What the page's stored key pair looks like from a script in the page. */
export interface StoredKeyFacts {
  readonly found: boolean;
  readonly extractable: boolean;
  readonly algorithm: { readonly name: string; readonly namedCurve?: string };
  readonly usages: string[];
  /** The error names `crypto.subtle.exportKey` rejected with, per format ("exported" if it did not). */
  readonly exportAttempts: Record<string, string>;
  readonly publicJwk: JWK;
}

/**
 * Run in the page (a string, so this file needs no DOM types and the test bundler adds
 * nothing to it): reads the SDK's record for this origin from IndexedDB and tries to
 * export the private key in every format.
 */
export const READ_STORED_KEY = `(async () => {
  const database = await new Promise((resolve, reject) => {
    const request = indexedDB.open("portcullis");
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const pair = await new Promise((resolve, reject) => {
    const request = database.transaction("dpop-keys").objectStore("dpop-keys").get(location.origin);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  database.close();
  if (!pair) return { found: false };
  const exportAttempts = {};
  for (const format of ["jwk", "pkcs8", "raw"]) {
    try {
      await crypto.subtle.exportKey(format, pair.privateKey);
      exportAttempts[format] = "exported";
    } catch (error) {
      exportAttempts[format] = error.name;
    }
  }
  return {
    found: true,
    extractable: pair.privateKey.extractable,
    algorithm: pair.privateKey.algorithm,
    usages: pair.privateKey.usages,
    exportAttempts,
    publicJwk: await crypto.subtle.exportKey("jwk", pair.publicKey),
  };
})()`;

/** The token in an `Authorization: DPoP …` or `Bearer …` header value. */
export function tokenOf(authorization: string | undefined): string {
  return (authorization ?? "").replace(/^(DPoP|Bearer) /, "");
}

/** The unverified claims of a JWT. */
export function claimsOf(token: string): { sid?: string; cnf?: { jkt?: string } } {
  return JSON.parse(new TextDecoder().decode(base64url.decode(token.split(".")[1] ?? "")));
}

export async function thumbprintOf(jwk: JWK): Promise<string> {
  return calculateJwkThumbprint({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y } as JWK, "sha256");
}

/** Someone in Node with a copy of a token and an ES256 key of their own. */
export class ForeignKeyHolder {
  readonly #key: Promise<{ privateKey: CryptoKey; jwk: JWK }>;

  constructor() {
    this.#key = generateKeyPair("ES256").then(async ({ privateKey, publicKey }) => ({
      privateKey,
      jwk: await exportJWK(publicKey),
    }));
  }

  async thumbprint(): Promise<string> {
    return thumbprintOf((await this.#key).jwk);
  }

  /** A well-formed proof for `method url`, with `ath` over `token` and the nonce when given. */
  async proof(method: string, url: string, token: string | undefined, nonce?: string): Promise<string> {
    const { privateKey, jwk } = await this.#key;
    const ath =
      token === undefined
        ? undefined
        : base64url.encode(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token))));
    return new SignJWT({
      htm: method,
      htu: url,
      jti: crypto.randomUUID(),
      ...(ath ? { ath } : {}),
      ...(nonce ? { nonce } : {}),
    })
      .setProtectedHeader({ typ: "dpop+jwt", alg: "ES256", jwk })
      .setIssuedAt()
      .sign(privateKey);
  }

  /**
   * Send `method url` with this key's proof, the way a careful attacker would: when the
   * gateway asks for its nonce, once more with it. The last answer.
   */
  async send(method: string, url: string, headers: Record<string, string>, token?: string): Promise<Response> {
    let response = await fetch(url, { method, headers: { ...headers, dpop: await this.proof(method, url, token) } });
    const nonce = response.headers.get("dpop-nonce");
    const wantsNonce = /use_dpop_nonce/.test(response.headers.get("www-authenticate") ?? "");
    if (nonce !== null && (wantsNonce || response.status === 400)) {
      await response.body?.cancel();
      response = await fetch(url, {
        method,
        headers: { ...headers, dpop: await this.proof(method, url, token, nonce) },
      });
    }
    return response;
  }
}
