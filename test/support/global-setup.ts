import { buildWorker } from "./build-worker";

/** vitest globalSetup: bundle the Worker once before any integration test runs. */
export default function setup(): void {
  buildWorker();
}
