/**
 * Observes the gateway's METRICS binding inside workerd. Miniflare's own Analytics Engine
 * dataset drops every point, so METRICS becomes an RPC entrypoint (MetricsRecorder) of a
 * small Worker in the same workerd that keeps the points it is given; the test reads them
 * back through that Worker. `setMetricsFailing` makes every write throw, to show that a
 * failing dataset never fails a request.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { BUNDLE_DIR } from "./build-worker";
import type { Gateway, GatewayOptions } from "./gateway";

const RECORDER_MODULE = `
import { WorkerEntrypoint } from "cloudflare:workers";

const points = [];
let failing = false;

export class MetricsRecorder extends WorkerEntrypoint {
  writeDataPoint(point) {
    if (failing) throw new Error("analytics engine unavailable (injected fault)");
    points.push(point);
  }
}

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.searchParams.has("failing")) failing = url.searchParams.get("failing") === "1";
    return Response.json(points);
  },
};
`;

export interface DataPoint {
  readonly indexes: string[];
  readonly blobs: string[];
  readonly doubles: number[];
}

/** Options for startGateway that give it a METRICS binding the test can read. */
export function metricsRecorderOptions(): Pick<GatewayOptions, "workerOptions" | "extraWorkers"> {
  const scriptPath = path.join(BUNDLE_DIR, "metrics-recorder.mjs");
  writeFileSync(scriptPath, RECORDER_MODULE);
  return {
    workerOptions: { serviceBindings: { METRICS: { name: "metrics", entrypoint: "MetricsRecorder" } } },
    extraWorkers: [{ name: "metrics", modules: true, scriptPath, compatibilityDate: "2026-04-01" }],
  };
}

async function call(gateway: Gateway, query = ""): Promise<DataPoint[]> {
  const worker = await gateway.mf.getWorker("metrics");
  const response = await worker.fetch(`http://metrics/${query}`);
  return (await response.json()) as DataPoint[];
}

/** The points written so far, as [event, kind, reason] triples. */
export async function dataPoints(gateway: Gateway): Promise<string[][]> {
  return (await call(gateway)).map((point) => point.blobs);
}

/**
 * Waits until the points written so far include `expected` (each [event, kind?, reason?],
 * counted) among those written after the first `since`, and returns those. Points are written after the answer (waitUntil), so a
 * test waits for them; bounded, so a point that never comes fails with what was seen.
 */
export async function waitForPoints(gateway: Gateway, expected: string[][], since = 0): Promise<string[][]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const seen = (await dataPoints(gateway)).slice(since);
    const pool = [...seen];
    const missing = expected.filter((want) => {
      const at = pool.findIndex((point) => want.every((value, index) => point[index] === value));
      if (at === -1) return true;
      pool.splice(at, 1);
      return false;
    });
    if (missing.length === 0) return seen;
    if (Date.now() > deadline) {
      throw new Error(`missing data points ${JSON.stringify(missing)}; saw ${JSON.stringify(seen)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export async function setMetricsFailing(gateway: Gateway, failing: boolean): Promise<void> {
  await call(gateway, `?failing=${failing ? "1" : "0"}`);
}
