/**
 * The stated bound on how long a revocation takes to bite (docs/storage.md): at once in
 * the isolate that recorded it; in any other isolate, at most 2 × PUBLISH_INTERVAL (1 s:
 * its shard, then the manifest) + KV propagation + REVOCATION_CACHE_SECONDS (+ up to 1 s
 * while another request re-reads the manifest or the shard) after it was recorded. Two gateway Workers run in
 * one workerd here (two isolates) sharing KV and the Durable Objects, as two Cloudflare
 * locations would; miniflare's KV propagates at once, so what is left of the bound is the
 * publish interval plus the cache.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PUBLISH_INTERVAL_MS } from "../../src/revocation/revocation-snapshot";
import { MAX_REFRESH_WAIT_MS } from "../../src/revocation/revocation-store";
import type { Gateway } from "../support/gateway";
import { waitForSnapshot } from "../support/revocations";
import { login } from "../support/session-helpers";
import { startTwoLocations, type TwoLocations } from "../support/two-locations";

const CACHE_SECONDS = 2;
let locations: TwoLocations;
let gateway: Gateway;
/** The second isolate: the same bundle as another Worker, reached through its own socket. */
let elsewhere: string;

beforeAll(async () => {
  locations = await startTwoLocations({ REVOCATION_CACHE_SECONDS: String(CACHE_SECONDS) });
  gateway = locations.a;
  elsewhere = locations.b.url;
});
afterAll(() => locations?.close());

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

describe("how long a revocation takes to bite", () => {
  it("bites at once where it was made, and elsewhere within the stated bound", async () => {
    const session = await login(gateway);
    const sid = String(session.claims.sid);
    // The other isolate has checked this token and cached the snapshot that allows it.
    expect((await fetch(`${elsewhere}/api/x`, bearer(session.accessToken))).status).toBe(200);

    const logout = await gateway.fetch("/auth/logout", {
      method: "POST",
      headers: { authorization: `Bearer ${session.accessToken}` },
    });
    expect(logout.status).toBe(204);
    const recordedAt = Date.now();
    expect((await gateway.fetch("/api/x", bearer(session.accessToken))).status).toBe(401);

    const published = await waitForSnapshot(gateway, (found) => found.has("sid", sid));
    expect(published.publishedAt - recordedAt).toBeLessThanOrEqual(2 * PUBLISH_INTERVAL_MS);

    // Elsewhere: refused once its cached snapshot ages out, never later than the bound.
    const bound = recordedAt + 2 * PUBLISH_INTERVAL_MS + CACHE_SECONDS * 1000 + MAX_REFRESH_WAIT_MS;
    const margin = 1000; // one request's latency on a busy 2-core machine
    let refusedAt: number | undefined;
    while (refusedAt === undefined && Date.now() < bound + margin) {
      const status = (await fetch(`${elsewhere}/api/x`, bearer(session.accessToken))).status;
      if (status === 401) refusedAt = Date.now();
      else await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(refusedAt).toBeDefined();
    expect(refusedAt).toBeLessThanOrEqual(bound + margin);
  });
});
