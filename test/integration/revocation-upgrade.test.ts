/**
 * The upgrade from 0.1's single-snapshot ledger, run for real: 0.1's bundle (built from
 * the last commit with that ledger) records a session revocation and a subject revocation
 * in persisted storage; this version's bundle then starts on the same storage. Both are
 * refused (the format-1 snapshot is read until 0.1's instance has carried its entries to
 * their shards), and still are once the manifest says `legacy: false` and the old
 * snapshot is gone.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PUBLISH_INTERVAL_MS } from "../../src/revocation/revocation-snapshot";
import { buildWorker, ROOT } from "../support/build-worker";
import { type Gateway, startGateway } from "../support/gateway";
import { waitForSnapshot } from "../support/revocations";
import { login } from "../support/session-helpers";
import { TEST_SECRETS } from "../support/test-keys";

/** The last commit whose ledger kept one `snapshot` (0.1's format). */
const BEFORE = "6ddbe71";

let work: string;
let oldBundle: string;
const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
const operator = { authorization: `Bearer ${TEST_SECRETS.OPERATOR_TOKEN}`, "content-type": "application/json" };

beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), "portcullis-upgrade-"));
  const tree = path.join(work, "before");
  execFileSync("git", ["worktree", "add", "--detach", tree, BEFORE], { cwd: ROOT, stdio: "pipe" });
  symlinkSync(path.join(ROOT, "node_modules"), path.join(tree, "node_modules"), "dir");
  // Inside the repository: workerd resolves a bundle's modules below the directory it starts in.
  oldBundle = buildWorker({ cwd: tree, outdir: path.join(ROOT, "dist/upgrade-before") });
}, 120_000);

afterAll(() => {
  execFileSync("git", ["worktree", "remove", "--force", path.join(work, "before")], { cwd: ROOT, stdio: "pipe" });
  rmSync(work, { recursive: true, force: true });
});

async function refusedWithin(gateway: Gateway, token: string, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  do {
    if ((await gateway.fetch("/api/x", bearer(token))).status === 401) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  } while (Date.now() < until);
  return false;
}

function start(scriptPath: string | undefined, key?: Gateway["key"]): Promise<Gateway> {
  const persist = { durableObjectsPersist: path.join(work, "do"), kvPersist: path.join(work, "kv") };
  return startGateway({
    vars: { REVOCATION_CACHE_SECONDS: "0" },
    workerOptions: scriptPath === undefined ? {} : { scriptPath },
    sharedOptions: persist,
    ...(key !== undefined ? { key } : {}),
  });
}

describe("upgrading from 0.1's ledger", () => {
  it("keeps refusing what 0.1 revoked, before and after the entries are carried to their shards", async () => {
    const before = await start(oldBundle);
    const ended = await login(before, "alice");
    const subject = await login(before, "admin");
    const logout = await before.fetch("/auth/logout", { method: "POST", ...bearer(ended.accessToken) });
    expect(logout.status).toBe(204);
    const revoke = await before.fetch("/auth/operator/revoke-subject", {
      method: "POST",
      headers: operator,
      body: JSON.stringify({ sub: subject.claims.sub }),
    });
    expect(revoke.status).toBe(200);
    const key = before.key;
    await before.close();

    const after = await start(undefined, key);
    try {
      expect((await after.fetch("/api/x", bearer(ended.accessToken))).status).toBe(401);
      // 0.1 publishes within a second of a revocation; an entry it had not published yet is
      // carried over by the alarm it set, as quickly.
      expect(await refusedWithin(after, subject.accessToken, 2 * PUBLISH_INTERVAL_MS + 1000)).toBe(true);
      const fresh = await login(after, "alice");
      expect((await after.fetch("/api/x", bearer(fresh.accessToken))).status).toBe(200);

      await waitForSnapshot(after, (published) => published.has("sid", String(ended.claims.sid)), 400);
      const kv = await after.kv();
      expect(JSON.parse((await kv.get("revocations", "text")) ?? "{}").legacy).toBe(false);
      await kv.delete("snapshot");
      expect((await after.fetch("/api/x", bearer(ended.accessToken))).status).toBe(401);
      expect((await after.fetch("/api/x", bearer(subject.accessToken))).status).toBe(401);
      await after.fetch("/auth/logout", { method: "POST", ...bearer(fresh.accessToken) });
      expect((await after.fetch("/api/x", bearer(fresh.accessToken))).status).toBe(401);
    } finally {
      await after.close();
    }
  }, 60_000);
});
