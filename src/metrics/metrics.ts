/**
 * Counters of what the gateway decides, written to a Workers Analytics Engine dataset
 * (optional binding METRICS; docs/operations.md has the queries and alerts).
 *
 * Each data point is one event: `index1` and `blob1` the event, `blob2` its kind (login
 * method, revocation kind, limit name, error cause), `blob3` a reason where there is one,
 * `double1` = 1. Writing never delays or fails a request: the platform's writeDataPoint
 * returns at once, anything it throws is swallowed, and a binding that answers with a
 * promise (a stand-in in tests) is handed to waitUntil.
 */

export type MetricEvent =
  | "login"
  | "rotation"
  | "grace_refresh"
  | "reuse_detected"
  | "revocation"
  | "rate_limited"
  | "cross_site_refused"
  | "upstream_error"
  | "server_error";

export interface Metrics {
  record(event: MetricEvent, kind?: string, reason?: string): void;
}

export const NO_METRICS: Metrics = Object.freeze({ record() {} });

/** Metrics written to `dataset`; without one, nothing is recorded. */
export function metricsFor(
  dataset: AnalyticsEngineDataset | undefined,
  waitUntil?: (promise: Promise<unknown>) => void,
): Metrics {
  if (dataset === undefined) return NO_METRICS;
  return {
    record(event, kind = "", reason = "") {
      try {
        const result: unknown = dataset.writeDataPoint({
          indexes: [event],
          blobs: [event, kind, reason],
          doubles: [1],
        });
        if (typeof (result as PromiseLike<unknown> | undefined)?.then === "function") {
          waitUntil?.(Promise.resolve(result).catch(() => undefined));
        }
      } catch {
        // A metric is never worth a failed request.
      }
    },
  };
}
