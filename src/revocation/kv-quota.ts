/**
 * Recognises Workers KV's "daily limit exceeded" failures (the free plan allows 100,000
 * reads and 1,000 writes a day), so the log line and the answer can say what ran out
 * instead of a bare "KV failed".
 */

export type ExhaustedQuota = "kv_reads" | "kv_writes";

/** Which daily KV limit an error reports, or undefined when it is some other failure. */
export function exhaustedQuota(error: unknown, operation: "read" | "write"): ExhaustedQuota | undefined {
  const message = error instanceof Error ? error.message : String(error);
  if (!/limit exceeded/i.test(message)) return undefined;
  return operation === "read" ? "kv_reads" : "kv_writes";
}
