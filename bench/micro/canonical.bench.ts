/**
 * What the canonical request costs per request (docs/benchmarks.md, "The canonical
 * request"): the path's canonical form and the route decision over its readings, for the
 * common path (nothing to decode) and for paths that take the slow way (escapes, letter
 * case, a trailing slash, a POST judged as every method).
 */
import { bench, describe } from "vitest";
import { canonicalPath } from "../../src/canonical/canonical-path";
import type { ConfigEnv } from "../../src/config/env";
import { parseConfig } from "../../src/config/parse-config";
import { decideRoute } from "../../src/policy/route-policy";
import { AUDIENCE, ISSUER } from "../../test/support/gateway";

// A production config parsed as the Worker parses it, with the benchmark's five rules.
const config = parseConfig({
  PORTCULLIS_ENV: "production",
  UPSTREAM_URL: "http://127.0.0.1:9",
  TOKEN_ISSUER: ISSUER,
  TOKEN_AUDIENCE: AUDIENCE,
  ROUTES: JSON.stringify([
    { path: "/health", public: true },
    { path: "/public/*", public: true },
    { path: "/admin/*", scopes: ["admin"] },
    { path: "/reports", methods: ["GET"], scopes: ["reports"] },
    { path: "/orders/*", methods: ["DELETE"], roles: ["operator"] },
  ]),
  ACCESS_SECRET: "x".repeat(32),
} as unknown as ConfigEnv);

function decided(path: string, method = "GET"): unknown {
  const canonical = canonicalPath(path, config.paths);
  if (!canonical.ok) throw new Error(canonical.refusal);
  return decideRoute(config.routes, method, canonical.readings, { postMayOverride: config.postMayOverride });
}

describe("canonical path and route decision", () => {
  bench("/api/items (the common path)", () => {
    decided("/api/items");
  });
  bench("/%C3%BCber/%61pi/items (escapes)", () => {
    decided("/%C3%BCber/%61pi/items");
  });
  bench("/Admin/Users/ (case and trailing slash: four readings)", () => {
    decided("/Admin/Users/");
  });
  bench("POST /orders/1 (judged as every method)", () => {
    decided("/orders/1", "POST");
  });
});
