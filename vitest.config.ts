import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        // One process for every file (isolate: false): a fresh process and a fresh import of
        // the whole module graph per file cost more than most of these files' tests.
        test: { name: "unit", include: ["test/unit/**/*.test.ts"], environment: "node", isolate: false },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          environment: "node",
          globalSetup: ["test/support/global-setup.ts"],
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        // The packed package in a consumer's Worker (test/package). It runs npm, wrangler and
        // tsc, so it goes after the other projects instead of competing with their timing.
        test: {
          name: "package",
          include: ["test/package/**/*.test.ts"],
          environment: "node",
          testTimeout: 30_000,
          hookTimeout: 180_000,
          sequence: { groupOrder: 1 },
        },
      },
      {
        // Headless Chromium (the system's, or @sparticuz/chromium's) against `wrangler dev` with the demo upstream.
        test: {
          name: "browser",
          include: ["test/browser/**/*.test.ts"],
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
