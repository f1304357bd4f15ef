/**
 * The service clients of a deployment (binding SERVICE_CLIENTS, docs/identities.md): one
 * Durable Object, addressed by the name SERVICE_CLIENTS_INSTANCE, holding every client in
 * one SQLite table (docs/storage.md). Strongly consistent and single-threaded, so a revoke
 * or a rotation is in force at the very next exchange, from anywhere, and the operator's
 * list is exact.
 *
 * Why one object and not one per client: an exchange happens about once per access-token
 * lifetime per machine, so even thousands of machines are a few requests a second, far
 * below what one object serves; the list then needs no index of its own. The token
 * endpoint is rate limited per address before it reaches the object.
 *
 * Only SHA-256 hashes of secrets are stored (client-secret.ts says why that hash).
 */
import { DurableObject } from "cloudflare:workers";
import { verifyClientAssertion } from "./client-assertion";
import type { ClientKey } from "./client-key";
import { hashClientSecret, hashesEqual, newClientId, newClientSecret } from "./client-secret";
import type { NewClientRequest, RotationRequest } from "./service-client-input";
import {
  type AuthenticatedClient,
  type AuthenticateResult,
  type IssuedSecret,
  type RevokeOutcome,
  type RotateOutcome,
  type ServiceClientRow,
  type ServiceClientView,
  scopesOf,
  viewOf,
} from "./service-client-record";

/** Live clients one deployment may hold (Cloudflare Access allows 50 service tokens per account). */
export const MAX_SERVICE_CLIENTS = 1000;
/** "Last used" is written at most this often per client: to the minute is what a list needs. */
export const LAST_USED_PRECISION_MS = 60_000;
/** A revoked client's row is kept this long, so revoking it again is answered, and re-recorded. */
const REVOKED_KEPT_MS = 24 * 3600 * 1000;

const CLIENTS_TABLE = `CREATE TABLE IF NOT EXISTS clients (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  scopes TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  secret_hash TEXT NOT NULL,
  public_jwk TEXT,
  previous_jwk TEXT,
  previous_hash TEXT,
  previous_until INTEGER,
  rotated_at INTEGER,
  last_used_at INTEGER,
  revoked_at INTEGER
)`;
/** The `jti`s of accepted client assertions (RFC 7523), each until its `exp` (ms). */
const ASSERTION_JTIS_TABLE = `CREATE TABLE IF NOT EXISTS assertion_jtis (
  client_id TEXT NOT NULL,
  jti TEXT NOT NULL,
  exp INTEGER NOT NULL,
  PRIMARY KEY (client_id, jti)
)`;

export type CreateResult = { readonly ok: true; readonly issued: IssuedSecret } | { readonly ok: false };

const keyOf = (stored: string | null): ClientKey | undefined =>
  stored === null ? undefined : (JSON.parse(stored) as ClientKey);

export class ServiceClients extends DurableObject {
  readonly #sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env as never);
    this.#sql = ctx.storage.sql;
    this.#sql.exec(CLIENTS_TABLE);
    this.#sql.exec(ASSERTION_JTIS_TABLE);
  }

  #row(clientId: string): ServiceClientRow | undefined {
    return this.#sql
      .exec<Record<string, SqlStorageValue>>("SELECT * FROM clients WHERE id = ?", clientId)
      .toArray()[0] as ServiceClientRow | undefined;
  }

  #prune(now: number): void {
    this.#sql.exec("DELETE FROM clients WHERE revoked_at IS NOT NULL AND revoked_at < ?", now - REVOKED_KEPT_MS);
  }

  /**
   * A new client and its first secret (none for a `private_key_jwt` client: its key is
   * stored instead); `ok: false` when MAX_SERVICE_CLIENTS are live already.
   */
  async create(request: NewClientRequest): Promise<CreateResult> {
    // Hashed before anything is read: no await between the checks below and the write.
    const secret = request.key === undefined ? newClientSecret() : undefined;
    const secretHash = secret === undefined ? "" : await hashClientSecret(secret);
    const now = Date.now();
    this.#prune(now);
    const live = this.#sql.exec<{ n: number }>("SELECT count(*) AS n FROM clients WHERE revoked_at IS NULL").one().n;
    if (live >= MAX_SERVICE_CLIENTS) return { ok: false };
    const clientId = newClientId();
    const expiresAt = now + request.expiresInSeconds * 1000;
    this.#sql.exec(
      "INSERT INTO clients (id, name, scopes, created_at, expires_at, secret_hash, public_jwk) VALUES (?, ?, ?, ?, ?, ?, ?)",
      clientId,
      request.name,
      request.scopes.join(" "),
      now,
      expiresAt,
      secretHash,
      request.key === undefined ? null : JSON.stringify(request.key),
    );
    return { ok: true, issued: { clientId, secret, expiresAt, previousUntil: null } };
  }

  /** Every client not revoked, expired ones included (the operator deletes those), oldest first. */
  list(): ServiceClientView[] {
    const now = Date.now();
    return this.#sql
      .exec<Record<string, SqlStorageValue>>("SELECT * FROM clients WHERE revoked_at IS NULL ORDER BY created_at, id")
      .toArray()
      .map((row) => viewOf(row as unknown as ServiceClientRow, now));
  }

  /**
   * A new secret (or, for a `private_key_jwt` client, the new key) for a live client; the
   * current one becomes the previous one, accepted for `overlapSeconds` more (0: refused
   * from now on). One replaced earlier, whose overlap still ran, is refused from now on:
   * at most two work at once.
   */
  async rotate(clientId: string, rotation: RotationRequest): Promise<RotateOutcome> {
    // Hashed before the row is read: no await between reading it and writing it back.
    const newSecret = newClientSecret();
    const newHash = await hashClientSecret(newSecret);
    const now = Date.now();
    const row = this.#row(clientId);
    if (row === undefined || row.revoked_at !== null || row.expires_at <= now)
      return { ok: false, reason: "not_found" };
    const keyClient = row.public_jwk !== null;
    if (keyClient && rotation.key === undefined) return { ok: false, reason: "key_required" };
    if (!keyClient && rotation.key !== undefined) return { ok: false, reason: "key_not_taken" };
    const previousUntil = rotation.overlapSeconds > 0 ? now + rotation.overlapSeconds * 1000 : null;
    const keep = previousUntil !== null;
    const secret = keyClient ? undefined : newSecret;
    this.#sql.exec(
      "UPDATE clients SET secret_hash = ?, previous_hash = ?, public_jwk = ?, previous_jwk = ?, previous_until = ?, rotated_at = ? WHERE id = ?",
      secret === undefined ? "" : newHash,
      keep && !keyClient ? row.secret_hash : null,
      rotation.key === undefined ? null : JSON.stringify(rotation.key),
      keep && keyClient ? row.public_jwk : null,
      previousUntil,
      now,
      clientId,
    );
    return { ok: true, issued: { clientId, secret, expiresAt: row.expires_at, previousUntil } };
  }

  /**
   * Revoke a client: no secret of it is accepted from now on. The caller then revokes its
   * subject, which refuses every access token it was given before this moment.
   */
  revoke(clientId: string): RevokeOutcome {
    const now = Date.now();
    this.#prune(now);
    const row = this.#row(clientId);
    if (row === undefined) return { found: false };
    if (row.revoked_at !== null) return { found: true, already: true, expiresAt: row.expires_at };
    this.#sql.exec(
      "UPDATE clients SET revoked_at = ?, secret_hash = '', previous_hash = NULL, previous_until = NULL, previous_jwk = NULL WHERE id = ?",
      now,
      clientId,
    );
    return { found: true, already: false, expiresAt: row.expires_at };
  }

  /**
   * Check a client's secret (the current one, or the previous one while its overlap
   * lasts; both compared, in constant time). On success, `authenticatedAt` is now: a
   * revocation recorded after this answer covers the tokens it leads to.
   */
  async authenticate(clientId: string, secret: string): Promise<AuthenticateResult> {
    const presented = await hashClientSecret(secret);
    const now = Date.now();
    const row = this.#row(clientId);
    if (row === undefined) return { ok: false, reason: "unknown_client" };
    const current = hashesEqual(presented, row.secret_hash);
    const previous =
      hashesEqual(presented, row.previous_hash) && row.previous_until !== null && row.previous_until > now;
    if (row.revoked_at !== null) return { ok: false, reason: "revoked" };
    if (!current && !previous) return { ok: false, reason: "wrong_secret" };
    if (row.expires_at <= now) return { ok: false, reason: "expired" };
    return { ok: true, client: this.#used(row, now, current ? "current" : "previous") };
  }

  /**
   * Check a `private_key_jwt` client's assertion (client-assertion.ts) against its key, or
   * the previous one while a rotation's overlap lasts, and accept its `jti` once: it is
   * kept until the assertion's `exp`. `audience` is the token endpoint's URL.
   */
  async authenticateAssertion(clientId: string, assertion: string, audience: string): Promise<AuthenticateResult> {
    // Before any await: a revocation that lands while this runs is later than every token it leads to.
    const now = Date.now();
    const row = this.#row(clientId);
    if (row === undefined) return { ok: false, reason: "unknown_client" };
    if (row.revoked_at !== null) return { ok: false, reason: "revoked" };
    const current = keyOf(row.public_jwk);
    if (current === undefined) return { ok: false, reason: "wrong_method" };
    const previous = row.previous_until !== null && row.previous_until > now ? keyOf(row.previous_jwk) : undefined;
    const keys = previous === undefined ? [current] : [current, previous];
    const checked = await verifyClientAssertion(assertion, keys, { clientId, audience, now });
    if (!checked.ok) return { ok: false, reason: "bad_assertion", detail: checked.reason };
    const after = this.#row(clientId);
    if (after === undefined || after.revoked_at !== null) return { ok: false, reason: "revoked" };
    if (after.expires_at <= now) return { ok: false, reason: "expired" };
    this.#sql.exec("DELETE FROM assertion_jtis WHERE exp <= ?", now);
    const fresh = this.#sql.exec(
      "INSERT OR IGNORE INTO assertion_jtis (client_id, jti, exp) VALUES (?, ?, ?)",
      clientId,
      checked.jti,
      checked.exp * 1000,
    ).rowsWritten;
    if (fresh === 0) return { ok: false, reason: "replayed_assertion" };
    return { ok: true, client: this.#used(after, now, checked.key) };
  }

  /** A successful authentication: its last use noted (coarsely), the client as the token endpoint needs it. */
  #used(row: ServiceClientRow, now: number, secret: "current" | "previous"): AuthenticatedClient {
    if (row.last_used_at === null || now - row.last_used_at >= LAST_USED_PRECISION_MS) {
      this.#sql.exec("UPDATE clients SET last_used_at = ? WHERE id = ?", now, row.id);
    }
    return {
      clientId: row.id,
      name: row.name,
      scopes: scopesOf(row),
      expiresAt: row.expires_at,
      authenticatedAt: now,
      secret,
    };
  }
}
