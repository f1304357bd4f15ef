/**
 * The rows of the seed design's Express middleware (`bench/seed-server.ts`): a plain
 * Express proxy, and the seed's backend-managed refresh middleware with valid and with
 * expired tokens, HS256 and ES256. Each row starts a seed server of its own.
 */
import { TEST_SECRETS } from "../test/support/test-keys";
import { REFRESH_SECRET, seedTokens, staticRequests, TOKEN_POOL } from "./bench-gateway";
import type { RowPlan } from "./build-rows";
import { startNodeChild } from "./processes";
import type { SeedConfig } from "./seed-server";

/** `seedScript`: the bundled seed server (`buildChildren`). */
export async function seedRows(upstreamUrl: string, seedScript: string): Promise<RowPlan[]> {
  const seed = await seedTokens(TOKEN_POOL);
  const seedServer = async (mode: SeedConfig["mode"], alg: SeedConfig["alg"]) => {
    const config: SeedConfig = {
      mode,
      upstream: upstreamUrl,
      alg,
      accessSecret: TEST_SECRETS.ACCESS_SECRET,
      accessPrivateJwk: seed.es256.privateJwk as Record<string, unknown>,
      accessPublicJwk: seed.es256.publicJwk as Record<string, unknown>,
      refreshSecret: REFRESH_SECRET,
    };
    const child = await startNodeChild(seedScript, { SEED_CONFIG: JSON.stringify(config) });
    return { url: child.ready.url as string, pid: child.pid, stop: () => child.stop() };
  };
  const row = (
    id: string,
    label: string,
    mode: SeedConfig["mode"],
    alg: SeedConfig["alg"],
    headers: Array<Record<string, string>>,
  ): RowPlan => ({
    id,
    label,
    server: "node (express)",
    baseline: id === "express" ? undefined : "express",
    prepare: () => seedServer(mode, alg),
    requests: () => staticRequests(headers),
  });
  return [
    row("express", "Express proxy (no middleware)", "plain", "HS256", seed.valid.HS256),
    row("seed-valid-hs256", "seed middleware, valid token, HS256", "seed", "HS256", seed.valid.HS256),
    row("seed-valid-es256", "seed middleware, valid token, ES256", "seed", "ES256", seed.valid.ES256),
    row("seed-refresh-hs256", "seed middleware, refresh, HS256", "seed", "HS256", seed.expired.HS256),
    row("seed-refresh-es256", "seed middleware, refresh, ES256", "seed", "ES256", seed.expired.ES256),
  ];
}
