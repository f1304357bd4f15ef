/** Minting tokens in tests, signed with the gateway's test key (or anything else). */
import { type JWTHeaderParameters, type JWTPayload, SignJWT } from "jose";
import { AUDIENCE, ISSUER } from "./gateway";
import type { TestKey } from "./test-keys";

export interface MintOptions {
  readonly claims?: JWTPayload & Record<string, unknown>;
  readonly header?: Partial<JWTHeaderParameters> & Record<string, unknown>;
  /** Seconds relative to now for iat/exp. */
  readonly iatOffset?: number;
  readonly ttl?: number;
}

export async function mintToken(key: TestKey, options: MintOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const iat = now + (options.iatOffset ?? 0);
  const payload: JWTPayload = {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: "user-alice",
    iat,
    exp: iat + (options.ttl ?? 300),
    jti: crypto.randomUUID(),
    sid: "AAAAAAAAAAAAAAAAAAAAAA",
    scope: "read write",
    ...options.claims,
  };
  for (const [name, value] of Object.entries(payload)) if (value === undefined) delete payload[name];
  return new SignJWT(payload)
    .setProtectedHeader({
      alg: key.privateJwk.alg as string,
      typ: "at+jwt",
      kid: key.privateJwk.kid,
      ...options.header,
    } as JWTHeaderParameters)
    .sign(key.privateKey);
}

/** The claims of a compact JWT, unverified (for inspecting what the gateway issued). */
export function decodeClaims(token: string): Record<string, unknown> {
  const part = token.split(".")[1] ?? "";
  return JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
}
