/**
 * The edge's side of revocation: checks tokens against the published snapshot, and
 * records revocations in the ledger (a Durable Object) before the answer that caused
 * them is sent.
 *
 * Reading: the snapshot (one KV value) is read about once per REVOCATION_CACHE_SECONDS
 * per isolate (0: on every check), however many distinct tokens arrive, so KV reads grow
 * with isolates and time, not with requests or users. An isolate never goes back to an
 * older snapshot version. A KV failure fails closed; when KV's daily read limit ran out,
 * the answer says so.
 *
 * Writing: a revocation recorded by this isolate bites here at once (it is kept in a
 * local overlay until its `exp`); elsewhere once the ledger has published it (at most
 * ~1 s later), KV has carried it to that location, and that isolate's cached snapshot
 * has aged out. See docs/storage.md for the bound.
 */
import { GatewayError } from "../errors/gateway-error";
import { log } from "../log/logger";
import { exhaustedQuota } from "./kv-quota";
import type { PublishState, RecordReceipt, RevocationInput, RevocationLedger } from "./revocation-ledger";
import {
  coversSession,
  EMPTY_SNAPSHOT,
  freshEntry,
  mergeEntries,
  parseSnapshot,
  type RevocationKind,
  type RevocationSubject,
  revokedIn,
  SNAPSHOT_KEY,
  type Snapshot,
  type SnapshotEntry,
} from "./revocation-snapshot";

export const KV_MIN_TTL_SECONDS = 60;
/** How much longer than REVOCATION_CACHE_SECONDS a snapshot may serve while another request reads KV. */
export const MAX_REFRESH_WAIT_MS = 1_000;
/** The local overlay of this isolate's own revocations holds at most this many. */
const MAX_LOCAL_ENTRIES = 10_000;
/** The ledger instance that holds what the edge checks, and publishes it. */
const EDGE_LEDGER = "edge";

export type { RevocationKind };
/** Why a token is revoked; undefined when it is not. */
export type RevocationVerdict = RevocationKind | undefined;

export interface RevocationStoreOptions {
  readonly cacheSeconds: number;
  readonly now: () => number;
}

/**
 * What the gateway asks of revocation. Narrow on purpose: the pipeline only calls
 * `revokedBecause`; endpoints (logout, RFC 7009, operator, back-channel logout) call the
 * `revoke*` methods, each of which resolves once the revocation is durably recorded.
 */
export interface Revocations {
  /**
   * Why a token is revoked, or undefined when it is not: at once while the isolate's
   * snapshot is fresh (the common case, no await), else a promise. Throws (or rejects)
   * when the list cannot be read.
   */
  revokedBecause(claims: RevocationSubject): RevocationVerdict | Promise<RevocationVerdict>;
  /** Has `sub` been revoked at or after session `sid`, which began at `authTime` (seconds)? */
  isSubjectRevoked(sub: string, authTime: number, sid?: string): Promise<boolean>;
  revokeToken(jti: string, ttlSeconds: number, reason: string): Promise<RecordReceipt>;
  /** Refuse every access token of these sessions (e.g. an IdP's back-channel logout). */
  revokeSessions(sids: readonly string[], ttlSeconds: number, reason: string): Promise<RecordReceipt>;
  /**
   * Refuse every token of `sub` whose session began at or before now, but those of
   * `options.keep` (revoke-others: the caller's own session), at once in this isolate.
   */
  revokeSubject(sub: string, ttlSeconds: number, reason: string, options?: { keep?: string }): Promise<RecordReceipt>;
  /** Record a spent refresh token (`refreshTokenId`) of session `sid`; never checked at the edge. */
  recordRotation(sid: string, tokenId: string, ttlSeconds: number): Promise<RecordReceipt>;
  /** The worst publishing state any revocation of this request met (undefined: none made). */
  readonly publishing: PublishState | undefined;
}

/** One per isolate: the snapshot cache and the local overlay are shared by its requests. */
export class RevocationStore {
  readonly #kv: KVNamespace;
  readonly #ledgers: DurableObjectNamespace<RevocationLedger>;
  readonly #options: RevocationStoreOptions;
  #snapshot: Snapshot = EMPTY_SNAPSHOT;
  #fetchedAt = Number.NEGATIVE_INFINITY;
  /** When a request began reading a stale snapshot again (undefined: none is). */
  #refreshStartedAt: number | undefined;
  readonly #local = new Map<string, SnapshotEntry>();

  constructor(kv: KVNamespace, ledgers: DurableObjectNamespace<RevocationLedger>, options: RevocationStoreOptions) {
    this.#kv = kv;
    this.#ledgers = ledgers;
    this.#options = options;
  }

  /** The view one request uses; it remembers how publishing went for that request's answer. */
  forRequest(requestId: string): Revocations {
    return new RequestRevocations(this, requestId);
  }

  revokedBecause(claims: RevocationSubject): RevocationVerdict | Promise<RevocationVerdict> {
    const now = this.#options.now();
    const local = this.#localKind(claims, now);
    if (local !== undefined) return local;
    const current = this.#current(now);
    if (current instanceof Promise) return current.then((snapshot) => revokedIn(snapshot, claims, now));
    return revokedIn(current, claims, now);
  }

  async isSubjectRevoked(sub: string, authTime: number, sid?: string): Promise<boolean> {
    return (await this.revokedBecause({ jti: undefined, sid, sub, authTime })) === "sub";
  }

  /** Record in the ledger; edge-checked kinds also go into this isolate's overlay. */
  async record(ledgerName: string, inputs: readonly RevocationInput[]): Promise<RecordReceipt> {
    const ledger = this.#ledgers.get(this.#ledgers.idFromName(ledgerName));
    let receipt: RecordReceipt;
    try {
      receipt = await ledger.record(inputs);
    } catch (error) {
      throw new GatewayError("revocation_store_unavailable", { detail: "revocation ledger call failed", cause: error });
    }
    const now = this.#options.now();
    for (const input of inputs) {
      if (input.kind === "rt") continue;
      this.#remember(`${input.kind}:${input.id}`, freshEntry(now, input.ttlSeconds, input.keep));
    }
    return receipt;
  }

  #localKind(claims: RevocationSubject, now: number): RevocationKind | undefined {
    if (this.#local.size === 0) return undefined;
    const seconds = now / 1000;
    const live = (key: string) => {
      const entry = this.#local.get(key);
      return entry !== undefined && entry.exp > seconds ? entry : undefined;
    };
    if (claims.jti !== undefined && live(`jti:${claims.jti}`)) return "jti";
    if (claims.sid !== undefined && live(`sid:${claims.sid}`)) return "sid";
    const subject = live(`sub:${claims.sub}`);
    if (subject !== undefined && coversSession(subject, claims)) return "sub";
    return undefined;
  }

  #remember(key: string, entry: SnapshotEntry): void {
    const previous = this.#local.get(key);
    this.#local.delete(key);
    if (this.#local.size >= MAX_LOCAL_ENTRIES) {
      const oldest = this.#local.keys().next().value;
      if (oldest !== undefined) this.#local.delete(oldest);
    }
    this.#local.set(key, mergeEntries(previous, entry));
  }

  /**
   * The snapshot to check against now: cached, or read from KV by this request itself. A
   * promise is never shared between requests (a Worker must not continue one request's
   * I/O in another's). While one request is refreshing a stale snapshot, the others keep
   * using it for at most MAX_REFRESH_WAIT_MS more instead of all reading KV at once.
   */
  #current(now: number): Promise<Snapshot> | Snapshot {
    const ttl = this.#options.cacheSeconds * 1000;
    if (ttl <= 0) return this.#read(now);
    const age = now - this.#fetchedAt;
    if (age < ttl) return this.#snapshot;
    const refreshing = this.#refreshStartedAt !== undefined && now - this.#refreshStartedAt < MAX_REFRESH_WAIT_MS;
    if (refreshing && age < ttl + MAX_REFRESH_WAIT_MS) return this.#snapshot;
    this.#refreshStartedAt = now;
    return this.#read(now).finally(() => {
      if (this.#refreshStartedAt === now) this.#refreshStartedAt = undefined;
    });
  }

  async #read(now: number): Promise<Snapshot> {
    let text: string | null;
    try {
      text = await this.#kv.get(SNAPSHOT_KEY);
    } catch (error) {
      const exhausted = exhaustedQuota(error, "read");
      throw new GatewayError("revocation_store_unavailable", {
        detail: exhausted ? "KV daily read limit exhausted (kv_reads)" : "KV read failed",
        publicDetail: exhausted ? "The revocation list's daily KV read limit is exhausted." : undefined,
        cause: error,
      });
    }
    let fetched: Snapshot;
    try {
      fetched = text === null ? EMPTY_SNAPSHOT : parseSnapshot(text);
    } catch (error) {
      throw new GatewayError("revocation_store_unavailable", {
        detail: "unreadable revocation snapshot",
        cause: error,
      });
    }
    if (fetched.version >= this.#snapshot.version) this.#snapshot = fetched;
    this.#fetchedAt = now;
    return this.#snapshot;
  }
}

const DEGRADED: ReadonlySet<PublishState> = new Set(["kv_reads", "kv_writes", "kv_unavailable"]);

class RequestRevocations implements Revocations {
  readonly #store: RevocationStore;
  readonly #requestId: string;
  #publishing: PublishState | undefined;

  constructor(store: RevocationStore, requestId: string) {
    this.#store = store;
    this.#requestId = requestId;
  }

  get publishing(): PublishState | undefined {
    return this.#publishing;
  }

  revokedBecause(claims: RevocationSubject): RevocationVerdict | Promise<RevocationVerdict> {
    return this.#store.revokedBecause(claims);
  }

  isSubjectRevoked(sub: string, authTime: number, sid?: string): Promise<boolean> {
    return this.#store.isSubjectRevoked(sub, authTime, sid);
  }

  revokeToken(jti: string, ttlSeconds: number, reason: string): Promise<RecordReceipt> {
    return this.#record(EDGE_LEDGER, [{ kind: "jti", id: jti, reason, ttlSeconds }]);
  }

  revokeSessions(sids: readonly string[], ttlSeconds: number, reason: string): Promise<RecordReceipt> {
    return this.#record(
      EDGE_LEDGER,
      sids.map((sid) => ({ kind: "sid", id: sid, reason, ttlSeconds })),
    );
  }

  revokeSubject(
    sub: string,
    ttlSeconds: number,
    reason: string,
    options: { keep?: string } = {},
  ): Promise<RecordReceipt> {
    const keep = options.keep !== undefined ? { keep: options.keep } : {};
    return this.#record(EDGE_LEDGER, [{ kind: "sub", id: sub, reason, ttlSeconds, ...keep }]);
  }

  recordRotation(sid: string, tokenId: string, ttlSeconds: number): Promise<RecordReceipt> {
    // Sharded by session so rotations never queue behind one object.
    return this.#record(`rotations:${sid.slice(0, 1)}`, [{ kind: "rt", id: tokenId, reason: "rotated", ttlSeconds }]);
  }

  async #record(ledger: string, inputs: readonly RevocationInput[]): Promise<RecordReceipt> {
    const receipt = await this.#store.record(
      ledger,
      inputs.map((input) => ({ ...input, ttlSeconds: Math.max(KV_MIN_TTL_SECONDS, Math.ceil(input.ttlSeconds)) })),
    );
    if (DEGRADED.has(receipt.publishing)) {
      this.#publishing = receipt.publishing;
      log.warn("revocation_publish_degraded", { requestId: this.#requestId, publishing: receipt.publishing });
    } else {
      this.#publishing ??= receipt.publishing;
    }
    return receipt;
  }
}
