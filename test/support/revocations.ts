/**
 * Revocations from a test's side: record them in the gateway's real revocation ledger
 * (the Durable Object), and read what the ledger published to KV. Tests that want the
 * edge to learn a revocation from KV (not from the writing isolate's own overlay) record
 * it here and wait for the publish.
 */
import { createHash } from "node:crypto";
import type { RevocationInput } from "../../src/revocation/revocation-ledger";
import { parseSnapshot, SNAPSHOT_KEY, type Snapshot } from "../../src/revocation/revocation-snapshot";
import type { Gateway } from "./gateway";

interface LedgerStub {
  record(inputs: readonly RevocationInput[]): Promise<{ publishing: string }>;
  entry(kind: RevocationInput["kind"], id: string): Promise<{ reason: string; exp: number } | undefined>;
}

async function ledger(gateway: Gateway, name: string): Promise<LedgerStub> {
  const namespace = await gateway.mf.getDurableObjectNamespace("REVOCATIONS");
  return namespace.get(namespace.idFromName(name)) as unknown as LedgerStub;
}

/** The ledger's record of a spent refresh token, as the gateway wrote it at rotation. */
export async function rotationRecord(gateway: Gateway, refreshToken: string) {
  const hash = createHash("sha256").update(refreshToken).digest("base64url");
  const shard = await ledger(gateway, `rotations:${refreshToken.slice(0, 1)}`);
  return shard.entry("rt", `rt.${hash.slice(0, 32)}`);
}

/** The snapshot the ledger last published (empty when it never has). */
export async function publishedSnapshot(gateway: Gateway): Promise<Snapshot | undefined> {
  const text = await (await gateway.kv()).get(SNAPSHOT_KEY, "text");
  return text === null ? undefined : parseSnapshot(text);
}

/** Wait (bounded) until the published snapshot satisfies `done`; returns it. */
export async function waitForSnapshot(
  gateway: Gateway,
  done: (snapshot: Snapshot) => boolean,
  attempts = 200,
): Promise<Snapshot> {
  for (let attempt = 0; attempt < attempts; attempt++) {
    const snapshot = await publishedSnapshot(gateway);
    if (snapshot !== undefined && done(snapshot)) return snapshot;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error("the revocation ledger did not publish the expected snapshot");
}

/** Record revocations in the "edge" ledger, as an endpoint would, and wait until they are published. */
export async function recordAndPublish(gateway: Gateway, inputs: readonly RevocationInput[]): Promise<Snapshot> {
  await (await ledger(gateway, "edge")).record(inputs);
  return waitForSnapshot(gateway, (snapshot) =>
    inputs.every((input) => input.kind === "rt" || Object.hasOwn(snapshot[input.kind], input.id)),
  );
}
