/**
 * What the edge checks: a published shard's lookups (what it refuses, what it lets
 * through, what it will not read), how two revocations of one subject combine, the
 * format-1 snapshot read during an upgrade, and the key hash the shards are built on.
 */
import { describe, expect, it } from "vitest";
import { hashText, keyHash, REVOCATION_SHARDS, shardOf } from "../../src/revocation/key-hash";
import {
  coversSession,
  freshEntry,
  type LegacySnapshot,
  mergeEntries,
  parseLegacySnapshot,
  parseManifest,
  revokedInLegacy,
} from "../../src/revocation/revocation-snapshot";
import { encodeShard, type ShardRow, ShardView, shardBytes } from "../../src/revocation/shard-format";

const NOW = 1_900_000_000_000;
const SECONDS = NOW / 1000;
const later = SECONDS + 600;

const claims = (overrides: Partial<Parameters<typeof revokedInLegacy>[1]> = {}) => ({
  jti: "token-x",
  sid: "session-x",
  sub: "alice",
  authTime: SECONDS - 3600,
  ...overrides,
});

const idRow = (kind: string, id: string, exp = later): ShardRow => ({ hash: keyHash(kind, id), exp });
const subjectRow = (sub: string, at: number, keep?: { sid: string; at: number }): ShardRow => ({
  hash: keyHash("sub", sub),
  exp: later,
  subject: { at, keepAt: keep?.at ?? 0, keep: keep ? keyHash("sid", keep.sid) : undefined },
});

function shard(rows: readonly ShardRow[]): ShardView {
  return new ShardView(encodeShard({ shard: 3, version: 7, publishedAt: NOW }, rows).buffer);
}

describe("a published shard", () => {
  const view = shard([
    idRow("jti", "token-1"),
    idRow("jti", "token-old", SECONDS - 1),
    idRow("sid", "session-1"),
    subjectRow("bob", NOW - 60_000),
    subjectRow("carol", 0, { sid: "carol-phone", at: NOW - 10_000 }),
    subjectRow("erin", NOW + 300),
    ...Array.from({ length: 500 }, (_, index) => idRow("sid", `filler-${index}`)),
  ]);

  it("carries its header", () => {
    expect([view.shard, view.version, view.publishedAt, view.entries, view.overflow]).toEqual([3, 7, NOW, 506, false]);
  });

  it("refuses by token id and by session, and only of the kind recorded", () => {
    expect(view.revokesId(keyHash("jti", "token-1"), SECONDS)).toBe(true);
    expect(view.revokesId(keyHash("sid", "session-1"), SECONDS)).toBe(true);
    expect(view.revokesId(keyHash("sid", "filler-499"), SECONDS)).toBe(true);
    expect(view.revokesId(keyHash("sid", "token-1"), SECONDS)).toBe(false);
    expect(view.revokesId(keyHash("jti", "token-2"), SECONDS)).toBe(false);
  });

  it("ignores entries past their expiry", () => {
    expect(view.revokesId(keyHash("jti", "token-old"), SECONDS)).toBe(false);
    expect(view.revokesId(keyHash("jti", "token-1"), later + 1)).toBe(false);
  });

  it("covers a subject's sessions that began at or before the revocation, not later ones", () => {
    const bob = keyHash("sub", "bob");
    expect(view.coversSubject(bob, claims({ sub: "bob", authTime: SECONDS - 60 }), SECONDS)).toBe(true);
    expect(view.coversSubject(bob, claims({ sub: "bob", authTime: SECONDS - 59 }), SECONDS)).toBe(false);
    expect(view.coversSubject(keyHash("sub", "alice"), claims(), SECONDS)).toBe(false);
  });

  it("tells apart sessions that began just before and just after it within one second", () => {
    const erin = keyHash("sub", "erin");
    // The revocation was made at NOW + 300 ms; the gateway's tokens carry auth_ms.
    expect(view.coversSubject(erin, claims({ sub: "erin", authTime: SECONDS + 0.299 }), SECONDS)).toBe(true);
    expect(view.coversSubject(erin, claims({ sub: "erin", authTime: SECONDS + 0.3 }), SECONDS)).toBe(true);
    expect(view.coversSubject(erin, claims({ sub: "erin", authTime: SECONDS + 0.301 }), SECONDS)).toBe(false);
    // Another issuer's whole-second auth_time in that second is taken as before it (fail closed).
    expect(view.coversSubject(erin, claims({ sub: "erin", authTime: SECONDS }), SECONDS)).toBe(true);
  });

  it("spares the one session a revoke-others kept, and none that began later", () => {
    const carol = keyHash("sub", "carol");
    const before = SECONDS - 100;
    expect(view.coversSubject(carol, claims({ sub: "carol", sid: "carol-laptop", authTime: before }), SECONDS)).toBe(
      true,
    );
    expect(view.coversSubject(carol, claims({ sub: "carol", sid: "carol-phone", authTime: before }), SECONDS)).toBe(
      false,
    );
    expect(view.coversSubject(carol, claims({ sub: "carol", sid: "new", authTime: SECONDS - 5 }), SECONDS)).toBe(false);
  });

  it("holds 12 bytes an id and 32 a subject", () => {
    expect(shardBytes(1_000_000, 0) - shardBytes(0, 0)).toBe(12_000_000);
    expect(shardBytes(0, 1) - shardBytes(0, 0)).toBe(32);
  });

  it("is published as the overflow marker past the value limit, which holds nothing", () => {
    const rows = Array.from({ length: 100 }, (_, index) => idRow("sid", `s-${index}`));
    const { buffer, overflow } = encodeShard({ shard: 1, version: 2, publishedAt: NOW }, rows, shardBytes(99, 0));
    expect(overflow).toBe(true);
    const marker = new ShardView(buffer);
    expect([marker.overflow, marker.entries]).toEqual([true, 0]);
  });

  it("keeps one row per hash, living as long as the longer-lived", () => {
    const twice = shard([idRow("sid", "same", SECONDS + 10), idRow("sid", "same", SECONDS + 900)]);
    expect(twice.entries).toBe(1);
    expect(twice.revokesId(keyHash("sid", "same"), SECONDS + 500)).toBe(true);
  });

  it.each([
    ["too short", new ArrayBuffer(8)],
    ["another magic", new ArrayBuffer(40)],
    [
      "a length its counts do not give",
      encodeShard({ shard: 0, version: 1, publishedAt: 0 }, [idRow("jti", "a")]).buffer.slice(0, 48),
    ],
  ])("refuses a value that is %s (the caller fails closed)", (_name, buffer) => {
    expect(() => new ShardView(buffer)).toThrow();
  });
});

describe("two revocations of one subject", () => {
  const session = (sid: string, authTime: number) => claims({ sub: "dave", sid, authTime });

  it("keep the later time and the longer life", () => {
    expect(mergeEntries(freshEntry(NOW, 60), freshEntry(NOW - 5000, 600))).toEqual({
      at: NOW,
      exp: Math.ceil(SECONDS - 5 + 600),
    });
  });

  it("a later revoke-others replaces an earlier one's exception", () => {
    const first = freshEntry(NOW - 10_000, 60, "phone");
    const second = freshEntry(NOW, 60, "laptop");
    const merged = mergeEntries(first, second);
    expect(coversSession(merged, session("phone", SECONDS - 100))).toBe(true);
    expect(coversSession(merged, session("laptop", SECONDS - 100))).toBe(false);
  });

  it("a later revocation that spares none ends an earlier exception", () => {
    const merged = mergeEntries(freshEntry(NOW - 10_000, 60, "phone"), freshEntry(NOW, 60));
    expect(merged.keep).toBeUndefined();
    expect(coversSession(merged, session("phone", SECONDS - 100))).toBe(true);
  });

  it("an earlier revocation that spared none still covers the kept session's older sessions", () => {
    const merged = mergeEntries(freshEntry(NOW - 10_000, 60), freshEntry(NOW, 60, "phone"));
    expect(coversSession(merged, session("phone", SECONDS - 100))).toBe(true);
    expect(coversSession(merged, session("phone", SECONDS - 5))).toBe(false);
    expect(coversSession(merged, session("other", SECONDS - 5))).toBe(true);
  });
});

describe("the format-1 snapshot of an upgrade", () => {
  const legacy: LegacySnapshot = {
    format: 1,
    version: 7,
    jti: { "token-1": { at: NOW, exp: later } },
    sid: { "session-1": { at: NOW, exp: later } },
    sub: { bob: { at: NOW - 60_000, exp: later } },
  };

  it("refuses what it lists, as before", () => {
    expect(revokedInLegacy(legacy, claims({ jti: "token-1" }), NOW)).toBe("jti");
    expect(revokedInLegacy(legacy, claims({ sid: "session-1" }), NOW)).toBe("sid");
    expect(revokedInLegacy(legacy, claims({ sub: "bob" }), NOW)).toBe("sub");
    for (const name of ["constructor", "__proto__", "toString"]) {
      expect(revokedInLegacy(legacy, claims({ jti: name, sid: name, sub: name }), NOW)).toBeUndefined();
    }
  });

  it.each([
    ["not JSON", "{"],
    ["another format", JSON.stringify({ ...legacy, format: 2 })],
    ["a map that is a list", JSON.stringify({ ...legacy, jti: [] })],
    ["null", "null"],
  ])("refuses %s (the caller fails closed)", (_name, text) => {
    expect(() => parseLegacySnapshot(text)).toThrow();
  });

  it("and a manifest that is not one", () => {
    expect(() =>
      parseManifest(JSON.stringify({ format: 2, version: 1, publishedAt: 1, shards: ["x"], legacy: false })),
    ).toThrow();
  });
});

describe("the key hash", () => {
  it("spreads 200,000 random ids over the shards without a collision", () => {
    const seen = new Set<string>();
    const perShard = new Array<number>(REVOCATION_SHARDS).fill(0);
    for (let index = 0; index < 200_000; index++) {
      const hash = keyHash("sid", crypto.randomUUID());
      seen.add(`${hash[0]}:${hash[1]}`);
      perShard[shardOf(hash)] = (perShard[shardOf(hash)] ?? 0) + 1;
    }
    expect(seen.size).toBe(200_000);
    // 12,500 a shard; a binomial's standard deviation here is about 108.
    for (const count of perShard) expect(Math.abs(count - 200_000 / REVOCATION_SHARDS)).toBeLessThan(700);
  }, 60_000);

  it("changes about half the bits for a one-letter change", () => {
    let flipped = 0;
    for (let index = 0; index < 1000; index++) {
      const [a0, a1] = hashText(`user-${index}`);
      const [b0, b1] = hashText(`user-${index + 1}`);
      flipped += popcount(a0 ^ b0) + popcount(a1 ^ b1);
    }
    expect(flipped / 1000).toBeGreaterThan(28);
    expect(flipped / 1000).toBeLessThan(36);
  });
});

function popcount(value: number): number {
  let count = 0;
  for (let bits = value >>> 0; bits !== 0; bits >>>= 1) count += bits & 1;
  return count;
}
