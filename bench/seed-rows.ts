/**
 * The rows of the seed design's Express middleware (`bench/seed-server.ts`): a plain
 * Express proxy, and the seed's backend-managed refresh middleware with valid and with
 * expired tokens, HS256 and ES256. Each row starts a seed server of its own.
 */
import { SignJWT } from "jose";
import { makeKey, TEST_SECRETS } from "../test/support/test-keys";
import { staticRequests, TOKEN_POOL } from "./bench-gateway";
import type { RowPlan } from "./build-rows";
import { benchScript, bundleScripts } from "./bundle-scripts";
import { startNodeChild } from "./processes";
import type { SeedConfig } from "./seed-server";

const REFRESH_SECRET = "seed-refresh-secret-0123456789abcdef";

/** The seed's tokens for `count` users: valid access tokens, and expired ones with a refresh cookie. */
async function seedTokens(count: number) {
  const es256 = await makeKey("ES256", "seed-es256");
  const hsKey = new TextEncoder().encode(TEST_SECRETS.ACCESS_SECRET);
  const now = Math.floor(Date.now() / 1000);
  const sign = (alg: "HS256" | "ES256", userId: string, exp: number) =>
    new SignJWT({ userId })
      .setProtectedHeader({ alg, typ: "JWT" })
      .setIssuedAt(exp - 900)
      .setExpirationTime(exp)
      .sign(alg === "HS256" ? hsKey : es256.privateKey);
  const refresh = (userId: string) =>
    new SignJWT({ userId })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setIssuedAt(now)
      .setExpirationTime(now + 30 * 86_400)
      .sign(new TextEncoder().encode(REFRESH_SECRET));
  const valid: Record<"HS256" | "ES256", Array<Record<string, string>>> = { HS256: [], ES256: [] };
  const expired: Record<"HS256" | "ES256", Array<Record<string, string>>> = { HS256: [], ES256: [] };
  for (let index = 0; index < count; index++) {
    const userId = `user-${index}`;
    for (const alg of ["HS256", "ES256"] as const) {
      valid[alg].push({ authorization: `Bearer ${await sign(alg, userId, now + 3600)}` });
      expired[alg].push({
        authorization: `Bearer ${await sign(alg, userId, now - 3600)}`,
        cookie: `refreshToken=${await refresh(userId)}`,
      });
    }
  }
  return { es256, valid, expired };
}

export async function seedRows(upstreamUrl: string): Promise<RowPlan[]> {
  await bundleScripts("node", { "seed-server": "bench/seed-server.ts" });
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
    const child = await startNodeChild(benchScript("seed-server"), { SEED_CONFIG: JSON.stringify(config) });
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
