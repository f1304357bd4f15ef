/**
 * Seals a session's newest refresh token under a key derived from the token it replaced.
 *
 * Within the grace window, a request that lost the rotation race presents the replaced
 * token; it alone can open the seal and receive the winner's token, so every racer ends
 * with the same cookie while the store never holds a usable token in clear.
 */
import { base64url } from "jose";

interface Sealed {
  readonly iv: string;
  readonly data: string;
}

async function keyFrom(replaced: string): Promise<CryptoKey> {
  const material = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`portcullis-successor:${replaced}`));
  return crypto.subtle.importKey("raw", material, "AES-GCM", false, ["encrypt", "decrypt"]);
}

export async function sealSuccessor(successor: string, replaced: string): Promise<Sealed> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const data = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv },
    await keyFrom(replaced),
    new TextEncoder().encode(successor),
  );
  return { iv: base64url.encode(iv), data: base64url.encode(new Uint8Array(data)) };
}

export async function openSuccessor(sealed: Sealed, replaced: string): Promise<string | undefined> {
  try {
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: base64url.decode(sealed.iv) },
      await keyFrom(replaced),
      base64url.decode(sealed.data),
    );
    return new TextDecoder().decode(plain);
  } catch {
    return undefined;
  }
}

export type { Sealed };
