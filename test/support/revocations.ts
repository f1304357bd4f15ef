/**
 * Revocations from a test's side: record them in the gateway's real revocation ledger
 * (the Durable Objects, each entry in the shard its key hashes to), and read what the
 * ledger published to KV (the manifest and the shards it names). Tests that want the edge
 * to learn a revocation from KV (not from the writing isolate's own overlay) record it
 * here and wait for the publish.
 */
import { createHash } from "node:crypto";
import { keyHash, shardOf } from "../../src/revocation/key-hash";
import {
  ledgerShardName,
  MANIFEST_KEY,
  parseManifest,
  type RevocationInput,
  shardKey,
} from "../../src/revocation/revocation-snapshot";
import { ShardView } from "../../src/revocation/shard-format";
import type { Gateway } from "./gateway";

interface LedgerStub {
  record(inputs: readonly RevocationInput[], shard?: number): Promise<{ publishing: string }>;
  entry(kind: RevocationInput["kind"], id: string): Promise<{ reason: string; at: number; exp: number } | undefined>;
}

export async function ledger(gateway: Gateway, name: string): Promise<LedgerStub> {
  const namespace = await gateway.mf.getDurableObjectNamespace("REVOCATIONS");
  return namespace.get(namespace.idFromName(name)) as unknown as LedgerStub;
}

/** The ledger's record of a spent refresh token, as the gateway wrote it at rotation. */
export async function rotationRecord(gateway: Gateway, refreshToken: string) {
  const hash = createHash("sha256").update(refreshToken).digest("base64url");
  const shard = await ledger(gateway, `rotations:${refreshToken.slice(0, 1)}`);
  return shard.entry("rt", `rt.${hash.slice(0, 32)}`);
}

/** The entry the ledger holds for `kind` and `id` (in the shard its key hashes to), if live. */
export async function recordedEntry(gateway: Gateway, kind: "jti" | "sid" | "sub", id: string) {
  const shard = shardOf(keyHash(kind, id));
  return (await ledger(gateway, ledgerShardName(shard))).entry(kind, id) as Promise<
    { reason: string; at: number; exp: number } | undefined
  >;
}

/** What the edge would find published: whether a live entry of `kind` and `id` is in it. */
export interface Published {
  readonly version: number;
  /** When the manifest naming these shards was published (ms). */
  readonly publishedAt: number;
  has(kind: "jti" | "sid" | "sub", id: string): boolean;
}

/** What the ledger has published (undefined when the manifest never was). */
export async function publishedSnapshot(gateway: Gateway): Promise<Published | undefined> {
  const kv = await gateway.kv();
  const text = await kv.get(MANIFEST_KEY, "text");
  if (text === null) return undefined;
  const manifest = parseManifest(text);
  const views = new Map<number, ShardView>();
  for (const [shard, version] of manifest.shards.entries()) {
    if (version === 0) continue;
    const buffer = await kv.get(shardKey(shard), "arrayBuffer");
    if (buffer !== null) views.set(shard, new ShardView(buffer));
  }
  return {
    version: manifest.version,
    publishedAt: manifest.publishedAt,
    has(kind, id) {
      const hash = keyHash(kind, id);
      const view = views.get(shardOf(hash));
      const seconds = Date.now() / 1000;
      if (view === undefined) return false;
      if (kind !== "sub") return view.revokesId(hash, seconds);
      return view.coversSubject(hash, { jti: undefined, sid: undefined, sub: id, authTime: 0 }, seconds);
    },
  };
}

/** Wait (bounded) until the published revocations satisfy `done`; returns them. */
export async function waitForSnapshot(
  gateway: Gateway,
  done: (published: Published) => boolean,
  attempts = 200,
): Promise<Published> {
  for (let attempt = 0; attempt < attempts; attempt++) {
    const published = await publishedSnapshot(gateway);
    if (published !== undefined && done(published)) return published;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error("the revocation ledger did not publish the expected entries");
}

/** Record revocations in their ledger shards, as an endpoint would, and wait until they are published. */
export async function recordAndPublish(gateway: Gateway, inputs: readonly RevocationInput[]): Promise<Published> {
  for (const input of inputs) {
    const shard = shardOf(keyHash(input.kind, input.id));
    await (await ledger(gateway, ledgerShardName(shard))).record([input], shard);
  }
  return waitForSnapshot(gateway, (published) =>
    inputs.every((input) => input.kind === "rt" || published.has(input.kind, input.id)),
  );
}
