import { buildWorker } from "./build-worker";
import { recordWorkerOptions } from "./worker-options";

/** vitest globalSetup: bundle the Worker once before any integration test runs, and keep wrangler's worker options. */
export default async function setup(): Promise<void> {
  buildWorker();
  await recordWorkerOptions();
}
