/**
 * The name of the IDP_LOGOUT_INDEX object that holds one key (see idp-logout-index.ts).
 * Apart from the Durable Object class, so the Worker side (sessions.ts) does not load the
 * class's module, which needs the Workers runtime ("cloudflare:workers").
 */
import { base64url } from "jose";

/** The object name for a kind of key and a value (hashed: provider ids can be long or odd). */
export async function indexName(
  kind: "idp-sid" | "idp-sub" | "jti" | "state",
  issuer: string,
  value: string,
): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${issuer}\u0000${value}`));
  return `${kind}:${base64url.encode(new Uint8Array(digest))}`;
}
