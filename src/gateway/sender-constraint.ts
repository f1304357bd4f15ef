/**
 * DPoP at the gateway (RFC 9449; docs/dpop.md): the proof a request brings, checked
 * against that request, and the rule that a token bound to a key (`cnf.jkt`) is good only
 * with a proof by that key.
 *
 * At a protected resource a refused proof is a 401 with a DPoP challenge
 * (`invalid_dpop_proof`, or `use_dpop_nonce` with a fresh `DPoP-Nonce`); at the token
 * endpoints (login, refresh) it is a 400 with the same error names (RFC 9449 §5, §8).
 */
import { DpopNonces } from "../dpop/dpop-nonce";
import { DpopRefusal, type VerifiedProof, verifyProof } from "../dpop/dpop-proof";
import { claimJti } from "../dpop/replay-cache";
import { GatewayError } from "../errors/gateway-error";
import type { AccessTokenClaims } from "../tokens/access-token-claims";
import type { PresentedToken } from "../tokens/read-credentials";
import type { RequestContext } from "./request-context";

export type { VerifiedProof } from "../dpop/dpop-proof";

/** Where a proof is checked: a protected resource, or the login and refresh endpoints. */
export type ProofPlace = "resource" | "token-endpoint";

const nonceMakers = new WeakMap<readonly string[], DpopNonces>();

function noncesOf(context: RequestContext): DpopNonces | undefined {
  const secrets = context.config.dpop.nonceSecrets;
  if (secrets === undefined) return undefined;
  let nonces = nonceMakers.get(secrets);
  if (nonces === undefined) {
    nonces = new DpopNonces(secrets);
    nonceMakers.set(secrets, nonces);
  }
  return nonces;
}

/** What a proof's `htu` must say: the scheme and authority the client used, and the canonical path. */
export function proofUri(context: RequestContext): string {
  const { url } = context;
  return `${url.protocol}//${url.host}${context.path}`;
}

function refused(place: ProofPlace, detail: string, dpopNonce?: string): GatewayError {
  if (dpopNonce !== undefined) {
    const code = place === "resource" ? "dpop_nonce_required" : "dpop_grant_nonce_required";
    return new GatewayError(code, { detail, dpopNonce });
  }
  return new GatewayError(place === "resource" ? "dpop_proof_invalid" : "dpop_grant_proof_invalid", { detail });
}

/**
 * The request's proof, checked (with `accessToken`, its `ath` too); undefined when the
 * request brought none. Throws the refusal for a proof that does not hold.
 */
export async function requestProof(
  context: RequestContext,
  place: ProofPlace,
  accessToken: string | undefined,
): Promise<VerifiedProof | undefined> {
  const proof = context.incoming.dpop;
  if (proof === null) return undefined;
  // Two DPoP headers arrive joined by ", "; a compact JWS has neither character.
  if (proof.includes(",")) throw refused(place, "several DPoP headers");
  const now = context.now();
  const nonces = await noncesOf(context)?.at(now);
  const { config } = context;
  try {
    return await verifyProof(proof, {
      method: context.method,
      uri: proofUri(context),
      accessToken,
      now,
      maxAgeSeconds: config.dpop.proofMaxAgeSeconds,
      clockToleranceSeconds: config.clockToleranceSeconds,
      ...(nonces ? { nonceIsCurrent: (nonce: string) => nonces.accepted.has(nonce) } : {}),
      claimJti: (jkt, jti, until) => claimJti(jkt, jti, until, now),
    });
  } catch (error) {
    if (!(error instanceof DpopRefusal)) throw error;
    throw refused(place, error.reason, error.nonceNeeded ? nonces?.current : undefined);
  }
}

/**
 * The proof of a login or refresh (no access token, so no `ath`): the key the session and
 * its tokens are bound to. With `required` (DPOP_SESSIONS = "required", at login), one
 * without is refused; a refresh leaves that to the session (sessions.ts), which ends a
 * bound session whose refresh token comes without its key.
 */
export async function sessionProof(context: RequestContext, required: boolean): Promise<VerifiedProof | undefined> {
  const proof = await requestProof(context, "token-endpoint", undefined);
  if (proof === undefined && required) {
    throw refused("token-endpoint", "DPOP_SESSIONS is required and the request brought no proof");
  }
  return proof;
}

/**
 * Whether a token may be used as presented: a bound token needs the DPoP scheme (in the
 * Authorization header) and a proof by its key; a bearer token may not use the DPoP scheme.
 * Returns the proof of a bound token, undefined for a bearer token.
 */
export async function proofForToken(
  context: RequestContext,
  presented: PresentedToken,
  claims: AccessTokenClaims,
): Promise<VerifiedProof | undefined> {
  if (claims.jkt === undefined) {
    if (presented.dpop) throw dpopTokenRefused("an unbound token with the DPoP scheme");
    return undefined;
  }
  if (presented.source === "header" && !presented.dpop) throw dpopTokenRefused("a DPoP-bound token sent as Bearer");
  if (context.incoming.dpop === null) throw refused("resource", "a DPoP-bound token without a proof");
  const proof = (await requestProof(context, "resource", presented.token)) as VerifiedProof;
  if (proof.jkt !== claims.jkt) throw refused("resource", "the proof's key is not the token's");
  return proof;
}

/** A token refused for how it was presented; the challenge names the DPoP scheme. */
export function dpopTokenRefused(detail: string): GatewayError {
  return new GatewayError("token_invalid", { detail, dpopChallenge: true });
}

/** For the answer of a request that brought a proof, when nonces are on: the nonce to use next. */
export async function nextNonce(context: RequestContext): Promise<string | undefined> {
  const nonces = noncesOf(context);
  return nonces === undefined ? undefined : (await nonces.at(context.now())).current;
}

/** Add the next nonce to an answer whose request brought a proof (mutates `headers`). */
export async function answerNonce(context: RequestContext, headers: Headers): Promise<void> {
  const nonce = context.incoming.dpop === null ? undefined : await nextNonce(context);
  if (nonce !== undefined) headers.set("dpop-nonce", nonce);
}
