/**
 * Who sends the request `portcullis explain` and `test-routes` judge: nobody (no token),
 * a token with the claims given (`--claims`, a case's `identity`), taken as valid, or a
 * token given whole (`--token`), decoded but NOT verified. Claims are read by the Worker's
 * own reader (tokens/access-token-claims.ts), so a `scope` given as a list, say, is refused
 * here as the Worker refuses it.
 */
import { decodeJwt, decodeProtectedHeader, type JWTPayload } from "jose";
import type { GatewayConfig } from "../config/config";
import type { RequestIdentity } from "../gateway/request-answer";
import { type AccessTokenClaims, readClaims } from "../tokens/access-token-claims";
import { readTrustedClaims } from "../tokens/trusted-issuers";
import { CliError } from "./output";

/** An identity, and how it was arrived at, in a sentence. */
export interface DescribedIdentity {
  readonly identity: RequestIdentity;
  readonly description: string;
}

const CLAIMS_SHAPE = "scope a space-separated string, roles a list of names without spaces, sub and sid visible ASCII";

export const NO_TOKEN: DescribedIdentity = Object.freeze({
  identity: Object.freeze({ kind: "none" }),
  description: "no access token",
});

/** A claim as given: a string as it is, anything else as JSON, "none" when absent or empty. */
function given(value: unknown): string {
  if (value === undefined || value === "" || (Array.isArray(value) && value.length === 0)) return "none";
  if (typeof value === "string") return value;
  return Array.isArray(value) && value.every((item) => typeof item === "string")
    ? value.join(" ")
    : JSON.stringify(value);
}

/** The claims as the Worker reads them: a token claiming a TRUSTED_ISSUERS `iss` with that issuer's mapping. */
function claimsOf(payload: JWTPayload, config: GatewayConfig): AccessTokenClaims | undefined {
  const trusted = config.trustedIssuers.find((issuer) => issuer.issuer === payload.iss);
  return trusted === undefined ? readClaims(payload) : readTrustedClaims(payload, trusted);
}

function summary(payload: JWTPayload): string {
  return `sub ${JSON.stringify(payload.sub)}, scope ${given(payload.scope)}, roles ${given(payload.roles)}`;
}

/**
 * A valid token of this gateway's with these claims on top (`sub` "someone" and a session
 * id unless given; `null` removes a claim, e.g. `"sid": null` for a token without a session).
 */
export function identityFromClaims(claims: unknown, config: GatewayConfig, now: number): DescribedIdentity {
  if (typeof claims !== "object" || claims === null || Array.isArray(claims)) {
    throw new CliError("usage", 'claims must be a JSON object, e.g. {"scope": "read write", "roles": ["clerk"]}');
  }
  const seconds = Math.floor(now / 1000);
  const payload: JWTPayload = {
    iss: config.issuer,
    aud: config.audience,
    sub: "someone",
    sid: "portcullis-explain-session",
    iat: seconds,
    exp: seconds + config.accessTokenTtl,
    ...claims,
  };
  for (const [name, value] of Object.entries(payload)) if (value === null) delete payload[name];
  const read = claimsOf(payload, config);
  const token = `a token with ${summary(payload)}`;
  if (read === undefined) {
    return {
      identity: { kind: "refused", code: "token_invalid", why: `its claims have the wrong types (${CLAIMS_SHAPE})` },
      description: `${token}, which the gateway refuses`,
    };
  }
  return {
    identity: { kind: "valid", claims: read },
    description: `${token}, taken as valid (its signature, issuer, audience, expiry and revocation are not checked)`,
  };
}

/** `--claims JSON`. */
export function identityFromClaimsText(text: string, config: GatewayConfig, now: number): DescribedIdentity {
  let claims: unknown;
  try {
    claims = JSON.parse(text);
  } catch (error) {
    throw new CliError("usage", "--claims must be JSON", { cause: error });
  }
  return identityFromClaims(claims, config, now);
}

/** Why a decoded token's registered claims would be refused, if they would be. */
function claimProblem(payload: JWTPayload, config: GatewayConfig, seconds: number): RequestIdentity | undefined {
  const tolerance = config.clockToleranceSeconds;
  const audiences = typeof payload.aud === "string" ? [payload.aud] : (payload.aud ?? []);
  const trusted = config.trustedIssuers.find((issuer) => issuer.issuer === payload.iss);
  if (trusted !== undefined) {
    if (!trusted.audience.some((audience) => audiences.includes(audience))) {
      const why = `its aud does not name the audience of trusted issuer ${trusted.id} (${trusted.audience.join(", ")})`;
      return { kind: "refused", code: "token_invalid", why };
    }
  } else if (payload.iss !== config.issuer) {
    return {
      kind: "refused",
      code: "token_invalid",
      why: `its iss is not TOKEN_ISSUER (${config.issuer}) nor that of a trusted issuer`,
    };
  } else if (!audiences.includes(config.audience)) {
    return { kind: "refused", code: "token_invalid", why: `its aud does not name TOKEN_AUDIENCE (${config.audience})` };
  }
  if (typeof payload.exp === "number" && payload.exp <= seconds - tolerance) {
    const why = "it has expired (with a valid refresh cookie, the gateway would refresh it on the way)";
    return { kind: "refused", code: "token_expired", why };
  }
  if (typeof payload.nbf === "number" && payload.nbf > seconds + tolerance) {
    return { kind: "refused", code: "token_invalid", why: "it is not valid yet (nbf)" };
  }
  if (typeof payload.iat === "number" && payload.iat > seconds + tolerance) {
    return { kind: "refused", code: "token_invalid", why: "it was issued in the future (iat)" };
  }
  return undefined;
}

/** `--token JWT`: decoded, its claims checked as far as they can be without the key. */
export function identityFromToken(token: string, config: GatewayConfig, now: number): DescribedIdentity {
  const unverified = "decoded, NOT verified: its signature, key and revocation are not checked";
  let payload: JWTPayload;
  try {
    decodeProtectedHeader(token);
    payload = decodeJwt(token);
  } catch {
    return {
      identity: { kind: "refused", code: "token_malformed", why: "it is not a JWT" },
      description: "a token that is not a JWT",
    };
  }
  const description = `the token given (${summary(payload)}; ${unverified})`;
  const problem = claimProblem(payload, config, Math.floor(now / 1000));
  if (problem !== undefined) return { identity: problem, description };
  const claims = claimsOf(payload, config);
  if (claims === undefined) {
    const why = `its claims have the wrong types (sub, iss, exp and iat are required; ${CLAIMS_SHAPE})`;
    return { identity: { kind: "refused", code: "token_invalid", why }, description };
  }
  return { identity: { kind: "valid", claims }, description };
}
