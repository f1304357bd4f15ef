/**
 * The edge's side of revocation: checks tokens against what the ledger published
 * (published-revocations.ts), and records revocations in the ledger (Durable Objects)
 * before the answer that caused them is sent.
 *
 * Reading: the manifest is read about once per REVOCATION_CACHE_SECONDS per isolate (0: on
 * every check), and a shard of entries only when a token falls in it and it changed; so KV
 * reads grow with isolates, time and shards that changed, not with requests, users or live
 * revocations. A KV failure fails closed; when KV's daily read limit ran out, the answer
 * says so.
 *
 * Writing: a revocation recorded by this isolate bites here at once (it is kept in a
 * local overlay until its `exp`); elsewhere once its shard and then the manifest are
 * published (at most ~1 s each), KV has carried them to that location, and that isolate's
 * manifest has aged out. See docs/storage.md for the bound.
 */
import { GatewayError } from "../errors/gateway-error";
import { log } from "../log/logger";
import { groupByShard } from "./key-hash";
import { PublishedRevocations } from "./published-revocations";
import type { PublishState, RecordReceipt, RevocationInput, RevocationLedger } from "./revocation-ledger";
import {
  coversSession,
  freshEntry,
  ledgerShardName,
  mergeEntries,
  type RevocationKind,
  type RevocationSubject,
  type SnapshotEntry,
} from "./revocation-snapshot";

export const KV_MIN_TTL_SECONDS = 60;
export { MAX_REFRESH_WAIT_MS } from "./published-revocations";

/** The local overlay of this isolate's own revocations holds at most this many. */
const MAX_LOCAL_ENTRIES = 10_000;

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

/** One per isolate: the published revocations it holds and its own overlay are shared by its requests. */
export class RevocationStore {
  readonly #ledgers: DurableObjectNamespace<RevocationLedger>;
  readonly #options: RevocationStoreOptions;
  readonly #published: PublishedRevocations;
  readonly #local = new Map<string, SnapshotEntry>();

  constructor(kv: KVNamespace, ledgers: DurableObjectNamespace<RevocationLedger>, options: RevocationStoreOptions) {
    this.#ledgers = ledgers;
    this.#options = options;
    this.#published = new PublishedRevocations(kv, options.cacheSeconds);
  }

  /** The view one request uses; it remembers how publishing went for that request's answer. */
  forRequest(requestId: string): Revocations {
    return new RequestRevocations(this, requestId);
  }

  revokedBecause(claims: RevocationSubject): RevocationVerdict | Promise<RevocationVerdict> {
    const now = this.#options.now();
    const local = this.#localKind(claims, now);
    if (local !== undefined) return local;
    return this.#published.revokedBecause(claims, now);
  }

  async isSubjectRevoked(sub: string, authTime: number, sid?: string): Promise<boolean> {
    return (await this.revokedBecause({ jti: undefined, sid, sub, authTime })) === "sub";
  }

  /**
   * Record in the ledger: each edge entry in the shard its key hashes to (the shards are
   * called side by side), a spent refresh token in `rotations`. Edge kinds also go into
   * this isolate's overlay. Resolves once every shard has stored its entries.
   */
  async record(inputs: readonly RevocationInput[], rotations?: string): Promise<RecordReceipt> {
    let receipts: RecordReceipt[];
    try {
      const calls =
        rotations !== undefined
          ? [this.#ledger(rotations).record(inputs)]
          : [...groupByShard(inputs)].map(([shard, group]) =>
              this.#ledger(ledgerShardName(shard)).record(group, shard),
            );
      receipts = await Promise.all(calls);
    } catch (error) {
      throw new GatewayError("revocation_store_unavailable", { detail: "revocation ledger call failed", cause: error });
    }
    const now = this.#options.now();
    for (const input of inputs) {
      if (input.kind === "rt") continue;
      this.#remember(`${input.kind}:${input.id}`, freshEntry(now, input.ttlSeconds, input.keep));
    }
    return { publishing: worst(receipts.map((receipt) => receipt.publishing)) };
  }

  #ledger(name: string): DurableObjectStub<RevocationLedger> {
    return this.#ledgers.get(this.#ledgers.idFromName(name));
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
}

/** The publishing state a request reports: the worst any shard met. */
const SEVERITY: readonly PublishState[] = ["ok", "pending", "kv_unavailable", "kv_reads", "kv_writes", "too_large"];
function worst(states: readonly PublishState[]): PublishState {
  return states.reduce<PublishState>((a, b) => (SEVERITY.indexOf(b) > SEVERITY.indexOf(a) ? b : a), "ok");
}

const DEGRADED: ReadonlySet<PublishState> = new Set(["kv_reads", "kv_writes", "kv_unavailable", "too_large"]);

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
    return this.#record([{ kind: "jti", id: jti, reason, ttlSeconds }]);
  }

  revokeSessions(sids: readonly string[], ttlSeconds: number, reason: string): Promise<RecordReceipt> {
    return this.#record(sids.map((sid) => ({ kind: "sid", id: sid, reason, ttlSeconds })));
  }

  revokeSubject(
    sub: string,
    ttlSeconds: number,
    reason: string,
    options: { keep?: string } = {},
  ): Promise<RecordReceipt> {
    const keep = options.keep !== undefined ? { keep: options.keep } : {};
    return this.#record([{ kind: "sub", id: sub, reason, ttlSeconds, ...keep }]);
  }

  recordRotation(sid: string, tokenId: string, ttlSeconds: number): Promise<RecordReceipt> {
    // Sharded by session so rotations never queue behind one object.
    return this.#record([{ kind: "rt", id: tokenId, reason: "rotated", ttlSeconds }], `rotations:${sid.slice(0, 1)}`);
  }

  async #record(inputs: readonly RevocationInput[], rotations?: string): Promise<RecordReceipt> {
    const receipt = await this.#store.record(
      inputs.map((input) => ({ ...input, ttlSeconds: Math.max(KV_MIN_TTL_SECONDS, Math.ceil(input.ttlSeconds)) })),
      rotations,
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
