/**
 * The `jti`s of the DPoP proofs a session's requests brought on `revocation = "strict"`
 * routes, in the session's Durable Object: one place for the whole world, so a proof is
 * accepted once wherever it is replayed (the per-isolate cache, dpop/replay-cache.ts, only
 * sees its own isolate). Each is kept until its proof would be too old anyway.
 */
const TABLE = "dpop_jtis";

/** True the first time `jti` is claimed in this session before `until` (ms); false for a replay. */
export function claimProofJti(sql: SqlStorage, jti: string, until: number, now: number): boolean {
  sql.exec(`CREATE TABLE IF NOT EXISTS ${TABLE} (jti TEXT PRIMARY KEY, until INTEGER NOT NULL)`);
  sql.exec(`DELETE FROM ${TABLE} WHERE until <= ?`, now);
  return sql.exec(`INSERT OR IGNORE INTO ${TABLE} (jti, until) VALUES (?, ?)`, jti, until).rowsWritten > 0;
}
