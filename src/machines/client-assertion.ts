/**
 * RFC 7523 client authentication (`private_key_jwt`): the client signs a short-lived JWT
 * with its private key, `iss` = `sub` = its client id, `aud` = the token endpoint's URL,
 * `exp` at most five minutes ahead, and a `jti` the ServiceClients object accepts once
 * (it keeps each until its `exp`). Verified with jose against the key the operator
 * registered, or during a rotation's overlap the previous one.
 */
import { decodeJwt, importJWK, jwtVerify } from "jose";
import type { ClientKey } from "./client-key";

export const CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/** The furthest ahead an assertion's `exp` may be (RFC 7523 §3 leaves it to the server). */
export const MAX_ASSERTION_LIFETIME_SECONDS = 300;
/** Clock skew allowed between the client and the gateway. */
const CLOCK_TOLERANCE_SECONDS = 5;
const MAX_JTI_LENGTH = 256;

/** The client an assertion claims to come from (unverified: only to find its key), or undefined. */
export function claimedClient(assertion: string): string | undefined {
  try {
    const { iss, sub } = decodeJwt(assertion);
    return typeof iss === "string" && iss === sub ? iss : undefined;
  } catch {
    return undefined;
  }
}

export type AssertionCheck =
  | { readonly ok: true; readonly jti: string; readonly exp: number; readonly key: "current" | "previous" }
  | { readonly ok: false; readonly reason: string };

export interface AssertionExpectations {
  readonly clientId: string;
  /** The token endpoint's URL, as the client must name it in `aud`. */
  readonly audience: string;
  /** Milliseconds since the epoch. */
  readonly now: number;
}

/** Verify an assertion against the client's keys (current first); the replay check is the caller's. */
export async function verifyClientAssertion(
  assertion: string,
  keys: readonly ClientKey[],
  expected: AssertionExpectations,
): Promise<AssertionCheck> {
  let reason = "no key";
  for (const [index, { jwk, alg }] of keys.entries()) {
    try {
      const key = await importJWK(jwk, alg);
      const { payload } = await jwtVerify(assertion, key, {
        algorithms: [alg],
        issuer: expected.clientId,
        subject: expected.clientId,
        audience: expected.audience,
        currentDate: new Date(expected.now),
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ["exp", "jti"],
      });
      const { exp, jti } = payload as { exp: number; jti: unknown };
      if (exp > expected.now / 1000 + MAX_ASSERTION_LIFETIME_SECONDS + CLOCK_TOLERANCE_SECONDS) {
        return { ok: false, reason: "exp more than five minutes ahead" };
      }
      if (typeof jti !== "string" || jti === "" || jti.length > MAX_JTI_LENGTH) return { ok: false, reason: "bad jti" };
      return { ok: true, jti, exp, key: index === 0 ? "current" : "previous" };
    } catch (error) {
      reason = (error as { code?: string }).code ?? "unverifiable";
      // Only a signature that does not verify (or another key type's algorithm) is worth the previous key.
      if (reason !== "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" && reason !== "ERR_JOSE_ALG_NOT_ALLOWED") {
        return { ok: false, reason };
      }
    }
  }
  return { ok: false, reason };
}
