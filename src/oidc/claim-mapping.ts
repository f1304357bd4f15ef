/**
 * From a provider's ID token to a Portcullis subject: the namespaced `sub`, the `scope`
 * and `roles` taken from the configured claims, and the identity claims (email, acr, amr,
 * auth_time) the gateway's tokens carry on (tokens/identity-claims.ts). Scope and roles
 * are a space-separated string or a list of strings (e.g. Okta/Entra/Keycloak `groups`).
 * Values that could not travel safely in a token or an upstream header are dropped, not
 * passed on.
 */
import type { OidcConfig } from "../config/config";
import { isIdentifier, isRole, isScopeToken } from "../tokens/access-token-claims";
import { type IdentityClaims, identityClaimsOf, providerAuthTime } from "../tokens/identity-claims";

const MAX_VALUES = 64;

function values(claim: unknown, accept: (value: unknown) => boolean): string[] {
  const list = typeof claim === "string" ? claim.split(" ") : Array.isArray(claim) ? claim : [];
  return [...new Set(list.filter(accept) as string[])].slice(0, MAX_VALUES);
}

export interface MappedSubject {
  readonly sub: string;
  readonly scope: readonly string[];
  readonly roles: readonly string[];
  /** email (with email_verified), acr, amr and the provider's auth_time, where it sent them. */
  readonly identity: IdentityClaims;
}

/** Undefined when the provider's `sub` cannot be a Portcullis subject. */
export function mapSubject(config: OidcConfig, claims: Readonly<Record<string, unknown>>): MappedSubject | undefined {
  const sub = `${config.subjectPrefix}${String(claims.sub)}`;
  if (typeof claims.sub !== "string" || !isIdentifier(sub)) return undefined;
  return {
    sub,
    scope: config.scopeClaim === undefined ? [] : values(claims[config.scopeClaim], isScopeToken),
    roles: config.rolesClaim === undefined ? [] : values(claims[config.rolesClaim], isRole),
    identity: { ...identityOf(claims), idp: config.id },
  };
}

function identityOf(claims: Readonly<Record<string, unknown>>): IdentityClaims {
  const identity = identityClaimsOf(claims);
  const authTime = providerAuthTime(claims);
  return authTime === undefined ? identity : { ...identity, idp_auth_time: authTime };
}
