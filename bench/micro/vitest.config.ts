/** `npm run bench:micro`: vitest bench of the canonical path and the route decision, on Node (docs/benchmarks.md). */
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    root: new URL("../..", import.meta.url).pathname,
    environment: "node",
    benchmark: { include: ["bench/micro/**/*.bench.ts"] },
  },
});
