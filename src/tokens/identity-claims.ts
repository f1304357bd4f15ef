/**
 * Who the user is and how they signed in, beyond `sub`, `scope` and `roles`: what a login
 * (the OIDC provider's ID token, or the credential check's answer) reports, kept with the
 * session and written into every access token the session is given, so that route rules
 * (docs/policy.md: `email`, `email_domain`, `acr`, `amr`, `max_auth_age`) can read it and
 * the upstream assertion can carry it.
 *
 * Only values that are safe and small in a token are kept; anything else is dropped, not
 * refused (the login itself is not wrong because a provider sent an odd `acr`).
 */

export interface IdentityClaims {
  readonly email?: string;
  readonly email_verified?: boolean;
  /** Authentication context class (OIDC Core §2): the assurance level of the sign-in. */
  readonly acr?: string;
  /** Authentication methods (RFC 8176): "pwd", "otp", "mfa", "hwk", … */
  readonly amr?: readonly string[];
  /**
   * When the provider last authenticated the user, seconds since the epoch: earlier than the
   * session's start when the provider reused its own single sign-on session. `max_auth_age`
   * reads this in preference to `auth_time` (the session's start).
   */
  readonly idp_auth_time?: number;
  /**
   * The login provider the session signed in with (its id: "oidc", or a LOGIN_PROVIDERS
   * entry's); only the gateway's own OIDC and GitHub logins set it, never a credential check.
   */
  readonly idp?: string;
}

const MAX_EMAIL = 254;
const MAX_ACR = 256;
const MAX_AMR_VALUES = 8;
const MAX_AMR_VALUE = 64;
// Visible ASCII without spaces: what travels in a header or an auth-param unchanged.
const VISIBLE = /^[\x21-\x7e]+$/;
const EMAIL = /^[^\s@]+@[^\s@]+$/;

/** No control characters (or spaces): a claim value that is safe in a log line and a header check. */
function withoutControls(value: string): boolean {
  for (let index = 0; index < value.length; index++) {
    const code = value.charCodeAt(index);
    if (code <= 0x20 || code === 0x7f) return false;
  }
  return true;
}

/** The identity claims of `source` (an ID token's claims, a credential check's answer) worth keeping. */
export function identityClaimsOf(source: Readonly<Record<string, unknown>>): IdentityClaims {
  const kept: {
    email?: string;
    email_verified?: boolean;
    acr?: string;
    amr?: string[];
    idp_auth_time?: number;
  } = {};
  const { email, email_verified, acr, amr } = source;
  if (typeof email === "string" && email.length <= MAX_EMAIL && EMAIL.test(email) && withoutControls(email)) {
    kept.email = email;
    if (typeof email_verified === "boolean") kept.email_verified = email_verified;
  }
  if (typeof acr === "string" && acr.length <= MAX_ACR && VISIBLE.test(acr)) kept.acr = acr;
  if (Array.isArray(amr)) {
    const methods = amr.filter(
      (method): method is string =>
        typeof method === "string" && method.length <= MAX_AMR_VALUE && VISIBLE.test(method),
    );
    if (methods.length > 0) kept.amr = [...new Set(methods)].slice(0, MAX_AMR_VALUES);
  }
  return kept;
}

/** `auth_time` from a provider, when it is a plausible time in seconds. */
export function providerAuthTime(source: Readonly<Record<string, unknown>>): number | undefined {
  const value = source.auth_time;
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? Math.floor(value) : undefined;
}

/** Whether there is anything to keep: a session without identity claims stores nothing for them. */
export function hasIdentityClaims(claims: IdentityClaims | undefined): claims is IdentityClaims {
  return claims !== undefined && Object.keys(claims).length > 0;
}
