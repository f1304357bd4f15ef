/** The published snapshot's lookup: what it refuses, what it lets through, what it will not parse. */
import { describe, expect, it } from "vitest";
import {
  EMPTY_SNAPSHOT,
  parseSnapshot,
  revokedIn,
  SNAPSHOT_FORMAT,
  type Snapshot,
} from "../../src/revocation/revocation-snapshot";

const NOW = 1_900_000_000_000;
const later = NOW / 1000 + 600;

const snapshot: Snapshot = {
  format: SNAPSHOT_FORMAT,
  version: 7,
  publishedAt: NOW,
  jti: { "token-1": { at: NOW, exp: later }, "token-old": { at: NOW - 10_000, exp: NOW / 1000 - 1 } },
  sid: { "session-1": { at: NOW, exp: later } },
  sub: { bob: { at: NOW - 60_000, exp: later } },
};

const claims = (overrides: Partial<Parameters<typeof revokedIn>[1]> = {}) => ({
  jti: "token-x",
  sid: "session-x",
  sub: "alice",
  authTime: NOW / 1000 - 3600,
  ...overrides,
});

describe("revokedIn", () => {
  it("refuses by token id, then session, then subject", () => {
    expect(revokedIn(snapshot, claims({ jti: "token-1" }), NOW)).toBe("jti");
    expect(revokedIn(snapshot, claims({ sid: "session-1" }), NOW)).toBe("sid");
    expect(revokedIn(snapshot, claims({ sub: "bob" }), NOW)).toBe("sub");
    expect(revokedIn(snapshot, claims(), NOW)).toBeUndefined();
  });

  it("lets a subject's sessions that began after the revocation through", () => {
    expect(revokedIn(snapshot, claims({ sub: "bob", authTime: (NOW - 60_000) / 1000 }), NOW)).toBe("sub");
    expect(revokedIn(snapshot, claims({ sub: "bob", authTime: (NOW - 59_000) / 1000 }), NOW)).toBeUndefined();
  });

  it("ignores entries past their expiry", () => {
    expect(revokedIn(snapshot, claims({ jti: "token-old" }), NOW)).toBeUndefined();
    expect(revokedIn(snapshot, claims({ jti: "token-1" }), (later + 1) * 1000)).toBeUndefined();
  });

  it("does not mistake inherited properties for entries", () => {
    for (const name of ["constructor", "__proto__", "toString", "hasOwnProperty"]) {
      expect(revokedIn(snapshot, claims({ jti: name, sid: name, sub: name }), NOW)).toBeUndefined();
    }
  });

  it("refuses nothing with the empty snapshot", () => {
    expect(revokedIn(EMPTY_SNAPSHOT, claims({ jti: "token-1", sid: "session-1", sub: "bob" }), NOW)).toBeUndefined();
  });
});

describe("parseSnapshot", () => {
  it("reads what the ledger writes", () => {
    expect(parseSnapshot(JSON.stringify(snapshot))).toEqual(snapshot);
  });

  it.each([
    ["not JSON", "{"],
    ["another format", JSON.stringify({ ...snapshot, format: 2 })],
    ["a missing map", JSON.stringify({ ...snapshot, sid: undefined })],
    ["a map that is a list", JSON.stringify({ ...snapshot, jti: [] })],
    ["null", "null"],
  ])("refuses %s (the caller fails closed)", (_name, text) => {
    expect(() => parseSnapshot(text)).toThrow();
  });
});
