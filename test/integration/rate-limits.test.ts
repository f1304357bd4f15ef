/**
 * Login and refresh are rate limited with the Workers rate-limiting bindings, using the
 * limits in wrangler.toml. Over the limit: 429 with Retry-After, and nothing else happens.
 */
import { afterEach, describe, expect, it } from "vitest";
import { type Gateway, startGateway } from "../support/gateway";
import { login, refreshCookieHeader } from "../support/session-helpers";
import { CREDENTIAL_CHECK_PATH } from "../support/upstream";

let gateway: Gateway | undefined;
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});

const json = { "content-type": "application/json" };
const credentialChecks = (g: Gateway) => g.upstream.received.filter((r) => r.url === "/portcullis/credential-check");

function attempt(g: Gateway, username: string, password = "wrong") {
  return g.fetch("/auth/login", { method: "POST", headers: json, body: JSON.stringify({ username, password }) });
}

describe("rate limits (limits from wrangler.toml)", () => {
  it("limits login attempts per account: the 6th in a minute is 429 and never reaches the credential check", async () => {
    gateway = await startGateway({ rateLimits: "wrangler" });
    for (let index = 0; index < 5; index += 1) expect((await attempt(gateway, "alice")).status).toBe(401);
    const checks = credentialChecks(gateway).length;
    const limited = await attempt(gateway, "ALICE", "correct horse");
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("60");
    expect(limited.headers.get("content-type")).toBe("application/problem+json");
    expect(limited.headers.getSetCookie()).toEqual([]);
    expect(credentialChecks(gateway).length).toBe(checks);
  });

  it("counts every spelling of an account name as one account (trimmed, NFKC, case-folded)", async () => {
    gateway = await startGateway({ rateLimits: "wrangler" });
    for (const spelling of ["alice ", "\talice", "ALICE", "ａｌｉｃｅ", "al\u200bice"]) {
      expect((await attempt(gateway, spelling)).status).toBe(401);
    }
    const checks = credentialChecks(gateway).length;
    expect((await attempt(gateway, "Alice", "correct horse")).status).toBe(429);
    expect(credentialChecks(gateway).length).toBe(checks);
  });

  it("counts attempts against the subject the credential check names, whatever name was used", async () => {
    gateway = await startGateway({ rateLimits: "wrangler" });
    // A check that knows alice by two names, and names the account when the password is wrong.
    gateway.upstream.route(CREDENTIAL_CHECK_PATH, async (request, response) => {
      const { username, password } = JSON.parse(Buffer.concat(await request.toArray()).toString("utf8"));
      const known = ["alice", "alice@example.com", "a.liddell"].includes(String(username).trim().toLowerCase());
      const json = { "content-type": "application/json" };
      if (!known) return void response.writeHead(401, json).end("{}");
      if (password !== "correct horse") return void response.writeHead(401, json).end('{"sub":"user-alice"}');
      response.writeHead(200, json).end('{"sub":"user-alice","scope":"read"}');
    });
    for (const name of ["alice", "alice@example.com", "alice", "alice@example.com", "alice"]) {
      expect((await attempt(gateway, name)).status).toBe(401);
    }
    // A name no per-name count has seen, and the right password: the subject's allowance is spent.
    const limited = await attempt(gateway, "a.liddell", "correct horse");
    expect(limited.status).toBe(429);
    expect(limited.headers.getSetCookie()).toEqual([]);
  });

  it("does not refuse a correct password for failures the check did not name (no oracle)", async () => {
    gateway = await startGateway({ rateLimits: "wrangler" });
    for (let index = 0; index < 4; index += 1) expect((await attempt(gateway, "alice")).status).toBe(401);
    expect((await attempt(gateway, "alice", "correct horse")).status).toBe(200);
  });

  it("limits login attempts per client IP across accounts", async () => {
    gateway = await startGateway({ rateLimits: "wrangler" });
    for (let index = 0; index < 10; index += 1) expect((await attempt(gateway, `user${index}`)).status).toBe(401);
    expect((await attempt(gateway, "someone-else")).status).toBe(429);
  });

  it("limits explicit refreshes per session without rotating", async () => {
    gateway = await startGateway({ rateLimits: "wrangler" });
    const session = await login(gateway);
    let refreshToken = session.refreshToken;
    for (let index = 0; index < 10; index += 1) {
      const response = await gateway.fetch("/auth/refresh", {
        method: "POST",
        headers: { cookie: refreshCookieHeader(refreshToken) },
      });
      expect(response.status).toBe(200);
      refreshToken = (response.headers.getSetCookie()[0] ?? "").split(";")[0]?.split("=")[1] ?? "";
    }
    const limited = await gateway.fetch("/auth/refresh", {
      method: "POST",
      headers: { cookie: refreshCookieHeader(refreshToken) },
    });
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("60");
    // The refused request changed nothing: no rotation, no cleared cookie.
    expect(limited.headers.getSetCookie()).toEqual([]);
    await gateway.waitForLog((line) => line.includes('"event":"session_rotated"'), 10);
    await gateway.waitForLog((line) => line.includes('"event":"rate_limited"'));
    await gateway.flushLogs();
    const rotations = gateway.logs.filter((line) => line.includes('"event":"session_rotated"'));
    expect(rotations).toHaveLength(10);
  });
});
