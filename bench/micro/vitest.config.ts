/** `npm run bench:micro`: vitest bench over the hot pieces, on Node (see docs/benchmarks.md). */
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    root: new URL("../..", import.meta.url).pathname,
    environment: "node",
    benchmark: { include: ["bench/micro/**/*.bench.ts"] },
  },
});
