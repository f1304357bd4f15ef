/**
 * A credential check in code (portcullis/hono's `checkCredentials`): what it is given and
 * what it answers. The request context carries it to the login endpoint (auth/login.ts),
 * so the contract sits here, below both, rather than in auth/.
 */

export interface Credentials {
  readonly username: string;
  readonly password: string;
}

/**
 * What a credential check answers for a known user: scopes as a list or space-separated;
 * optionally the user's email and how the check authenticated them (`acr`, `amr`: e.g.
 * `["pwd", "otp"]` after a second factor), which route rules can require (docs/policy.md).
 */
export interface SubjectAnswer {
  readonly sub: string;
  readonly scope?: string | readonly string[];
  readonly roles?: readonly string[];
  readonly email?: string;
  readonly email_verified?: boolean;
  readonly acr?: string;
  readonly amr?: readonly string[];
}

/** A credential check in code: the subject, or `undefined` for unknown user or wrong password. */
export type CredentialCheck = (credentials: Credentials) => Promise<SubjectAnswer | undefined>;
