/**
 * A service client as the ServiceClients object stores it (docs/storage.md), what its
 * methods answer, and the subject its access tokens carry.
 */

import { SERVICE_SUBJECT_PREFIX } from "../tokens/access-token-claims";

/** A checked input: its value, or why it was refused (a 400's detail). */
export type Checked<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

export { SERVICE_SUBJECT_PREFIX };

/**
 * The one ServiceClients instance's name. Here, not beside the class, so endpoints reach it
 * without importing the Durable Object's module (and `cloudflare:workers` with it).
 */
export const SERVICE_CLIENTS_INSTANCE = "directory";

/** The `sub` of a service client's access tokens. */
export function serviceSubject(clientId: string): string {
  return SERVICE_SUBJECT_PREFIX + clientId;
}

/** One row of the `clients` table. Times are milliseconds since the epoch. */
export interface ServiceClientRow {
  readonly id: string;
  readonly name: string;
  /** The scopes, space-separated. */
  readonly scopes: string;
  readonly created_at: number;
  readonly expires_at: number;
  /** SHA-256 (base64url) of the current secret; empty for a `private_key_jwt` client. */
  readonly secret_hash: string;
  /** A `private_key_jwt` client's public key and algorithm (JSON of a ClientKey); null for a secret's. */
  readonly public_jwk: string | null;
  /** The key a rotation replaced, while its overlap lasts (`previous_until`). */
  readonly previous_jwk: string | null;
  /** SHA-256 of the secret a rotation replaced, while its overlap lasts; else null. */
  readonly previous_hash: string | null;
  /** Until when the previous secret is accepted (null: none). */
  readonly previous_until: number | null;
  readonly rotated_at: number | null;
  /** Coarse: updated at most once a minute (LAST_USED_PRECISION_MS). */
  readonly last_used_at: number | null;
  /** Set when the operator revoked it; the row is kept a day so a repeated revoke is answered alike. */
  readonly revoked_at: number | null;
}

/** What the operator's list shows of a client: never a secret or a hash. */
export interface ServiceClientView {
  readonly client_id: string;
  /** How it authenticates: with a secret (Basic or in the form), or a signed assertion (RFC 7523). */
  readonly auth_method: "client_secret" | "private_key_jwt";
  readonly name: string;
  readonly scopes: readonly string[];
  readonly created_at: string;
  readonly expires_at: string;
  readonly last_used_at: string | null;
  readonly rotated_at: string | null;
  /** While a rotation's overlap lasts: until when the previous secret still works. */
  readonly previous_secret_expires_at: string | null;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export const scopesOf = (row: Pick<ServiceClientRow, "scopes">): string[] =>
  row.scopes === "" ? [] : row.scopes.split(" ");

export function viewOf(row: ServiceClientRow, now: number): ServiceClientView {
  const overlapping = row.previous_until !== null && row.previous_until > now;
  return {
    client_id: row.id,
    auth_method: row.public_jwk === null ? "client_secret" : "private_key_jwt",
    name: row.name,
    scopes: scopesOf(row),
    created_at: new Date(row.created_at).toISOString(),
    expires_at: new Date(row.expires_at).toISOString(),
    last_used_at: iso(row.last_used_at),
    rotated_at: iso(row.rotated_at),
    previous_secret_expires_at: overlapping ? iso(row.previous_until) : null,
  };
}

/** A client the token endpoint authenticated. `authenticatedAt` (ms) is its tokens' `auth_time`. */
export interface AuthenticatedClient {
  readonly clientId: string;
  readonly name: string;
  readonly scopes: readonly string[];
  readonly expiresAt: number;
  readonly authenticatedAt: number;
  /** Which secret (or key) matched: the previous one means the machine has not picked up a rotation yet. */
  readonly secret: "current" | "previous";
}

/** Why a client was not authenticated: for the log only, the client hears `invalid_client`. */
export type ClientRefusal =
  | "unknown_client"
  | "wrong_secret"
  | "expired"
  | "revoked"
  // private_key_jwt: the client has no key (or a secret client sent an assertion), the
  // assertion does not verify, or its jti was used before
  | "wrong_method"
  | "bad_assertion"
  | "replayed_assertion";

export type AuthenticateResult =
  | { readonly ok: true; readonly client: AuthenticatedClient }
  | { readonly ok: false; readonly reason: ClientRefusal; readonly detail?: string };

export interface IssuedSecret {
  readonly clientId: string;
  /** Undefined for a `private_key_jwt` client: it has no secret. */
  readonly secret: string | undefined;
  readonly expiresAt: number;
  /** For a rotation: until when the previous secret still works (null: not at all). */
  readonly previousUntil: number | null;
}

/** A rotation: done, no live client of that id, or a key client without a key (or the reverse). */
export type RotateOutcome =
  | { readonly ok: true; readonly issued: IssuedSecret }
  | { readonly ok: false; readonly reason: "not_found" | "key_required" | "key_not_taken" };

/** What revoking a client found: gone now (`revoked`), gone before (`already`), or never there. */
export type RevokeOutcome =
  | { readonly found: false }
  | { readonly found: true; readonly already: boolean; readonly expiresAt: number };
