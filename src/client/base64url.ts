/**
 * base64url (RFC 4648 §5, no padding) for the JWS the client signs by hand: the SDK has
 * no dependencies, and `btoa` is in every browser and in Node ≥ 16.
 */

/** base64url of bytes. */
export function encodeBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** base64url of a string's UTF-8 bytes. */
export function encodeBase64UrlText(text: string): string {
  return encodeBase64Url(new TextEncoder().encode(text));
}

/** base64url of the SHA-256 of a string's UTF-8 bytes (JWK thumbprints, DPoP `ath`). */
export async function sha256Base64Url(text: string, subtle: SubtleCrypto = crypto.subtle): Promise<string> {
  const digest = await subtle.digest("SHA-256", new TextEncoder().encode(text));
  return encodeBase64Url(new Uint8Array(digest));
}
