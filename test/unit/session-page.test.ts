/**
 * The pure parts of the sessions list and of mass logout: cutting pages and reading
 * cursors (src/sessions/session-page.ts), the query a list takes (src/auth/session-paging.ts),
 * how long a subject revocation lives (subjectRevocationTtl) and the clean-up's bound.
 */
import { describe, expect, it } from "vitest";
import { readPageRequest } from "../../src/auth/session-paging";
import type { GatewayConfig } from "../../src/config/config";
import { GatewayError } from "../../src/errors/gateway-error";
import { CLEANUP_BATCH_SIZE, cleanupBoundSeconds } from "../../src/sessions/session-cleanup";
import { cutPage, decodeCursor, encodeCursor } from "../../src/sessions/session-page";
import type { SessionEntry } from "../../src/sessions/subject-session-entry";
import { subjectRevocationTtl } from "../../src/sessions/subject-session-list";

function entry(sid: string, createdAt: number): SessionEntry {
  return {
    sid: sid.padEnd(22, "A"),
    createdAt,
    lastUsedAt: createdAt,
    expiresAt: createdAt + 1_000_000,
    idleTimeoutMs: 1_000_000,
    method: "password",
    device: "Unknown device",
  };
}

describe("pages of a subject's sessions", () => {
  // Two sessions in one millisecond: the id orders them, so no position is ambiguous.
  const entries = [entry("a", 10), entry("b", 30), entry("c", 20), entry("d", 30), entry("e", 5)];

  it("cuts pages newest first, and their cursors walk every entry exactly once", () => {
    const walked: string[] = [];
    let page = cutPage(entries, 2);
    walked.push(...page.entries.map((listed) => listed.sid[0] as string));
    while (page.next !== undefined) {
      const cursor = encodeCursor(page.next);
      page = cutPage(entries, 2, decodeCursor(cursor));
      walked.push(...page.entries.map((listed) => listed.sid[0] as string));
    }
    expect(walked).toEqual(["b", "d", "c", "a", "e"]);
  });

  it("has no next page when the last one is exactly full", () => {
    expect(cutPage(entries, 5).next).toBeUndefined();
    expect(cutPage(entries, 4).next).toEqual({ createdAt: 10, sid: entries[0]?.sid });
  });

  it("reads back only the cursors it hands out", () => {
    const position = { createdAt: 1_796_000_000_000, sid: "AbC_-0123456789xyzABCD" };
    expect(decodeCursor(encodeCursor(position))).toEqual(position);
    const encoded = (text: string) => Buffer.from(text).toString("base64url");
    for (const bad of [
      "",
      "!!",
      "A".repeat(65),
      encoded("12"),
      encoded("12.short"),
      encoded("-1.AbC_-0123456789xyzABCD"),
      encoded("012.AbC_-0123456789xyzABCD"),
      encoded("99999999999999999.AbC_-0123456789xyzABCD"),
      encoded("1.AbC_-0123456789xyzABCD.x"),
      Buffer.from([0xff, 0xfe]).toString("base64url"),
    ]) {
      expect(decodeCursor(bad), bad).toBeUndefined();
    }
  });
});

describe("the query of a sessions list", () => {
  const read = (query: string) => readPageRequest(new URL(`https://gateway.test/auth/sessions${query}`));

  it("defaults to 50 and takes 1 to 100", () => {
    expect(read("")).toEqual({ limit: 50 });
    expect(read("?limit=1")).toEqual({ limit: 1 });
    expect(read("?limit=100&other=x")).toEqual({ limit: 100 });
  });

  it("refuses anything else with request_invalid and a detail naming the parameter", () => {
    for (const query of ["?limit=0", "?limit=101", "?limit=1e2", "?limit= 5", "?limit=5&limit=5", "?cursor=%20"]) {
      let error: unknown;
      try {
        read(query);
      } catch (thrown) {
        error = thrown;
      }
      expect(error, query).toBeInstanceOf(GatewayError);
      expect((error as GatewayError).code).toBe("request_invalid");
      expect((error as GatewayError).publicDetail).toMatch(query.includes("limit") ? /"limit"/ : /"cursor"/);
    }
  });
});

describe("how long a subject revocation lives", () => {
  const config = { accessTokenTtl: 900, clockToleranceSeconds: 5, refreshTokenTtl: 2_592_000 } as GatewayConfig;

  it("as long as any session can, when the index cannot vouch for every session", () => {
    expect(subjectRevocationTtl(config, { exact: false, pending: 10 })).toBe(2_592_000);
  });

  it("the clean-up's bound and an access token's life, when it can", () => {
    expect(subjectRevocationTtl(config, { exact: true, pending: 5_000 })).toBe(cleanupBoundSeconds(5_000) + 905);
    expect(cleanupBoundSeconds(5_000)).toBe(3_600 + 5_000 / CLEANUP_BATCH_SIZE);
    // Never longer than the sessions it covers can live.
    expect(subjectRevocationTtl({ ...config, refreshTokenTtl: 3_000 }, { exact: true, pending: 1 })).toBe(3_000);
  });

  it("keeps each clean-up batch within half the Workers Free plan's 50 subrequests", () => {
    expect(CLEANUP_BATCH_SIZE).toBeLessThanOrEqual(25);
  });
});
