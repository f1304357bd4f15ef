/**
 * The issuers of TRUSTED_ISSUERS as the verifier uses them: each one's remote key set
 * (cached per isolate, remote-key-set.ts) and settings, found by the exact `iss` a token
 * claims. The claimed `iss` only chooses whose keys, audience and algorithms to verify
 * with; it is trusted once that issuer's key verified it. A token claiming one issuer is
 * therefore never checked with another's keys (no mix-up), and an `iss` nobody configured
 * finds no keys here at all.
 *
 * Also the mapping from such a token's claims to the gateway's identity: the subject with
 * the issuer's prefix, the scopes and roles from the configured claims, no Portcullis
 * session (a `sid` it carries is the issuer's, not ours).
 */
import type { JWTPayload } from "jose";
import type { TrustedIssuerConfig } from "../config/config";
import { type AccessTokenClaims, isRole, isScopeToken, readClaims } from "./access-token-claims";
import { type RemoteKeySet, type RemoteKeySetOptions, remoteKeySetFor } from "./remote-key-set";

export interface TrustedIssuer {
  readonly config: TrustedIssuerConfig;
  readonly keys: RemoteKeySet;
}

export class TrustedIssuers {
  readonly #byIssuer: ReadonlyMap<string, TrustedIssuer>;

  constructor(configs: readonly TrustedIssuerConfig[], options: RemoteKeySetOptions) {
    // An issuer without a JWKS (introspection only) has no keys: a JWT claiming its `iss`
    // then goes to the gateway's own keys, which refuse it.
    this.#byIssuer = new Map(
      configs.flatMap((config) =>
        config.jwksUrl === undefined
          ? []
          : [[config.issuer, { config, keys: remoteKeySetFor(config.jwksUrl, options) }] as const],
      ),
    );
  }

  /** The issuer whose `iss` this exactly is, or undefined. */
  of(iss: string): TrustedIssuer | undefined {
    return this.#byIssuer.get(iss);
  }
}

const MAX_VALUES = 64;

/** A claim's values: a space-separated string or a list; values that cannot travel safely are dropped. */
function values(claim: unknown, accept: (value: unknown) => boolean): string[] {
  const list = typeof claim === "string" ? claim.split(" ") : Array.isArray(claim) ? claim : [];
  return [...new Set(list.filter(accept) as string[])].slice(0, MAX_VALUES);
}

/**
 * The claims of a verified token of a trusted issuer, as the gateway uses them; undefined
 * when its `sub` (with the prefix) or another claim it relies on is ill-typed. The payload
 * itself is kept as the issuer wrote it: route conditions read `repository`, `ref`, … there.
 */
export function readTrustedClaims(payload: JWTPayload, issuer: TrustedIssuerConfig): AccessTokenClaims | undefined {
  if (typeof payload.sub !== "string") return undefined;
  const { scopeClaim, rolesClaim } = issuer;
  // readClaims checks the shared claims (exp, iat, jti, auth_time, cnf); the identity is this issuer's.
  const shared = readClaims({
    sub: `${issuer.subjectPrefix}${payload.sub}`,
    iss: payload.iss,
    exp: payload.exp,
    iat: payload.iat,
    jti: payload.jti,
    auth_time: payload.auth_time,
    cnf: payload.cnf,
  });
  if (shared === undefined) return undefined;
  return Object.freeze({
    ...shared,
    sid: undefined,
    scopes: new Set(values(payload[scopeClaim], isScopeToken)),
    roles: new Set(values(payload[rolesClaim], isRole)),
    trustedIssuer: issuer.id,
    payload,
  });
}
