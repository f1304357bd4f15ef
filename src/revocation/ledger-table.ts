/**
 * The ledger's entries in its Durable Object's SQLite database: one row per revoked key,
 * so a burst of revocations is a burst of small row writes (no value grows with the number
 * of entries, which is what capped the per-bucket rows of 0.1 at about 15,000 entries per
 * 10 s), and pruning is one indexed DELETE.
 */
import { keyHash } from "./key-hash";
import { mergeEntries, type RevocationKind, type SnapshotEntry } from "./revocation-snapshot";
import type { ShardRow } from "./shard-format";

/** A recorded revocation: an edge kind, or `rt`, a spent refresh token (never published). */
export interface StoredEntry extends SnapshotEntry {
  readonly kind: RevocationKind | "rt";
  readonly id: string;
  readonly reason: string;
}

type Row = Record<string, SqlStorageValue> & {
  kind: string;
  id: string;
  reason: string;
  at: number;
  exp: number;
  keep: string | null;
  keep_at: number | null;
};

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS entries (
    kind TEXT NOT NULL, id TEXT NOT NULL, reason TEXT NOT NULL,
    at INTEGER NOT NULL, exp INTEGER NOT NULL, keep TEXT, keep_at INTEGER,
    PRIMARY KEY (kind, id)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS entries_by_exp ON entries (exp);
`;

function entryOf(row: Row): StoredEntry {
  const base = { kind: row.kind as StoredEntry["kind"], id: row.id, reason: row.reason, at: row.at, exp: row.exp };
  return row.keep === null || row.keep_at === null ? base : { ...base, keep: row.keep, keepAt: row.keep_at };
}

export class LedgerTable {
  readonly #sql: SqlStorage;
  readonly #storage: DurableObjectStorage;

  constructor(storage: DurableObjectStorage) {
    this.#storage = storage;
    this.#sql = storage.sql;
    this.#sql.exec(SCHEMA);
  }

  /**
   * Store each entry merged with the one already there (mergeEntries: a revocation never
   * shrinks), all in one transaction: they are in the table together or not at all.
   */
  upsert(entries: readonly StoredEntry[]): void {
    this.#storage.transactionSync(() => {
      for (const entry of entries) {
        const previous = this.get(entry.kind, entry.id);
        const merged = mergeEntries(previous, entry);
        this.#sql.exec(
          `INSERT OR REPLACE INTO entries (kind, id, reason, at, exp, keep, keep_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
          entry.kind,
          entry.id,
          entry.reason,
          merged.at,
          merged.exp,
          merged.keep ?? null,
          merged.keepAt ?? null,
        );
      }
    });
  }

  get(kind: StoredEntry["kind"], id: string): StoredEntry | undefined {
    const rows = this.#sql.exec<Row>(`SELECT * FROM entries WHERE kind = ? AND id = ?`, kind, id).toArray();
    return rows[0] === undefined ? undefined : entryOf(rows[0]);
  }

  /** Every live edge entry (not `rt`), as the shard publishes them. */
  liveRows(seconds: number): ShardRow[] {
    const rows: ShardRow[] = [];
    const cursor = this.#sql.exec<Row>(`SELECT * FROM entries WHERE kind != 'rt' AND exp > ?`, seconds);
    for (const row of cursor) {
      const hash = keyHash(row.kind, row.id);
      if (row.kind !== "sub") {
        rows.push({ hash, exp: row.exp });
        continue;
      }
      const keep = row.keep === null ? undefined : keyHash("sid", row.keep);
      rows.push({ hash, exp: row.exp, subject: { at: row.at, keepAt: row.keep_at ?? 0, keep } });
    }
    return rows;
  }

  /** Delete what expired by `seconds`; returns how many rows went. */
  prune(seconds: number): number {
    return this.#sql.exec(`DELETE FROM entries WHERE exp <= ?`, seconds).rowsWritten;
  }

  /** The earliest expiry (s) of any entry, or undefined when there is none. */
  nextExpiry(): number | undefined {
    const row = this.#sql.exec<{ next: number | null }>(`SELECT min(exp) AS next FROM entries`).one();
    return row.next ?? undefined;
  }

  count(): number {
    return this.#sql.exec<{ n: number }>(`SELECT count(*) AS n FROM entries`).one().n;
  }
}
