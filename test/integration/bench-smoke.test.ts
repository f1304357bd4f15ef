/**
 * The benchmark harness in smoke mode (a few requests per connection per row), so it cannot
 * rot: every row must complete its requests without a single error, and the big bodies must
 * stream through. It asserts no speed, so a busy machine only makes it slower (a row that
 * has not completed within its generous limit fails, naming the row); `npm run bench` is
 * where numbers come from.
 */
import { describe, expect, it } from "vitest";
import { formatTable, runBench } from "../../bench/harness";

/** Each row still goes through its warm-up, but a smoke run measures nothing that needs a warm isolate. */
const WARMUP_SECONDS = 0.2;

describe("npm run bench (smoke mode)", () => {
  it("completes every row with zero errors and streams the big bodies through", async () => {
    const result = await runBench({
      smoke: true,
      warmupSeconds: WARMUP_SECONDS,
      connections: 16,
      skipWorkerBuild: true,
      log: () => undefined,
    });
    const expectedRows = [
      "direct",
      "bare",
      "bare-entry",
      "floor",
      "gateway-public",
      "gateway-valid",
      "gateway-valid-conditions",
      "bare-p256",
      "bare-proof",
      "gateway-valid-dpop",
      "gateway-verify-single",
      "gateway-verify-issuers",
      "gateway-valid-nocache",
      "gateway-valid-own",
      "gateway-valid-assertion",
      "gateway-valid-strict",
      "gateway-refresh",
      "gateway-refresh-split",
      "store-calls-probe",
      "express",
      "seed-valid-hs256",
      "seed-valid-es256",
      "seed-refresh-hs256",
      "seed-refresh-es256",
    ];
    expect(result.rows.map((row) => row.id)).toEqual(expectedRows);
    for (const row of result.rows) {
      expect({ row: row.id, errors: row.errors, codes: row.statusCodes }).toEqual({
        row: row.id,
        errors: 0,
        codes: { "200": row.requests },
      });
      expect(row.requests, row.id).toBe(4 * 16);
      expect(Number.isFinite(row.serverCpuMicros), row.id).toBe(true);
    }
    expect(result.transfers.map((item) => [item.direction, item.ok])).toEqual([
      ["upload", true],
      ["download", true],
      ["upload", true],
      ["download", true],
    ]);
    expect(result.gatewayPeakBytes).toBeGreaterThan(0);
    expect(result.bundle.gzipBytes).toBeGreaterThan(0);
    expect(result.bundle.gzipBytes).toBeLessThan(result.bundle.bytes);
    expect(formatTable(result)).toContain("gateway, transparent refresh");
    expect(formatTable(result)).toMatch(/Worker bundle .*gzip \d/);
    // The valid-token row over the forwarding floor, in the same workerd and rounds.
    expect(formatTable(result)).toMatch(/\| gateway, valid token \| floor \| [+-]\d+ \| \d+\.\d\d \|/);
  }, 600_000);

  it("soaks the public, valid-token and refresh rows and counts every error", async () => {
    const result = await runBench({
      smoke: true,
      soakSeconds: 2,
      warmupSeconds: WARMUP_SECONDS,
      connections: 16,
      skipWorkerBuild: true,
      log: () => undefined,
    });
    expect(result.rows.map((row) => row.id)).toEqual(["gateway-public", "gateway-valid", "gateway-refresh"]);
    for (const row of result.rows) {
      expect({ row: row.id, errors: row.errors, codes: row.statusCodes }).toEqual({
        row: row.id,
        errors: 0,
        codes: { "200": 4 * 16 },
      });
    }
    expect(result.transfers).toEqual([]);
    const total = result.rows.reduce((sum, row) => sum + row.requests, 0);
    expect(formatTable(result)).toContain(`${total} requests, 0 errors`);
  }, 300_000);
});
