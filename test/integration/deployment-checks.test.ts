/**
 * What a deployment must declare, checked on the first request: a missing or mistyped
 * binding is a 503 with one `config_invalid` log line naming the binding and what it is
 * for, never a 500 TypeError; rate limits are required where tokens are issued in
 * production (RATE_LIMITS = false opts out); password login can be switched off (404, no
 * error log). The upgrade test runs today's Worker with the wrangler.toml of a release
 * before the revocation ledger.
 */
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { ROOT } from "../support/build-worker";
import { type Gateway, type GatewayOptions, startGateway } from "../support/gateway";
import { login } from "../support/session-helpers";

let gateway: Gateway | undefined;
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});

const production = unstable_getMiniflareWorkerOptions(path.join(ROOT, "wrangler.toml"), "production").workerOptions;

function without(group: "durableObjects" | "kvNamespaces" | "ratelimits", ...names: string[]) {
  const kept = Object.fromEntries(
    Object.entries((production[group] ?? {}) as Record<string, unknown>).filter(([name]) => !names.includes(name)),
  );
  return { [group]: kept };
}

const json = { "content-type": "application/json" };
const loginAttempt = (g: Gateway) =>
  g.fetch("/auth/login", {
    method: "POST",
    headers: json,
    body: JSON.stringify({ username: "alice", password: "correct horse" }),
  });

/** Starts the gateway; every request then answers 503 and the log names `setting` with `words`. */
async function refusedNaming(setting: string, words: RegExp, options: GatewayOptions): Promise<void> {
  gateway = await startGateway(options);
  for (const response of [await gateway.fetch("/api/x"), await loginAttempt(gateway)]) {
    expect(response.status).toBe(503);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
  }
  const [line] = await gateway.waitForLog((entry) => entry.includes('"event":"config_invalid"'));
  const entry = JSON.parse(line ?? "{}");
  expect(entry.setting).toBe(setting);
  expect(entry.detail).toMatch(words);
  expect(gateway.logs.join("\n")).not.toMatch(/TypeError|unexpected_error/);
}

describe("bindings", () => {
  it.each([
    ["REVOKED", /revocation snapshot/, without("kvNamespaces", "REVOKED")],
    ["SESSIONS", /sessions and refresh-token rotation/, without("durableObjects", "SESSIONS")],
    ["REVOCATIONS", /revocation ledger.*RevocationLedger/, without("durableObjects", "REVOCATIONS")],
  ])("names a missing %s and what it is for", async (name, words, workerOptions) => {
    await refusedNaming(name, words, { workerOptions });
  });

  it("names the per-subject index when MAX_SESSIONS_PER_USER needs it", async () => {
    await refusedNaming("SUBJECT_SESSIONS", /list of sessions/, {
      vars: { MAX_SESSIONS_PER_USER: "3" },
      workerOptions: without("durableObjects", "SUBJECT_SESSIONS"),
    });
  });

  it("asks for no per-subject index when MAX_SESSIONS_PER_USER is left to its default", async () => {
    gateway = await startGateway({ workerOptions: without("durableObjects", "SUBJECT_SESSIONS") });
    expect((await loginAttempt(gateway)).status).toBe(200);
    expect((await gateway.fetch("/auth/sessions")).status).toBe(401);
  });

  it("names a binding of the wrong kind", async () => {
    await refusedNaming("REVOCATIONS", /is not a Durable Object namespace/, {
      workerOptions: {
        ...without("durableObjects", "REVOCATIONS"),
        kvNamespaces: { ...(production.kvNamespaces as object), REVOCATIONS: { id: "wrong-kind" } },
      },
    });
  });

  it("upgrade: the wrangler.toml of a release before the revocation ledger gets the error naming REVOCATIONS", async () => {
    await refusedNaming("REVOCATIONS", /revocation ledger.*new_sqlite_classes = \["RevocationLedger"\]/, {
      wranglerConfig: path.join(ROOT, "test/fixtures/wrangler-before-ledger.toml"),
    });
  });
});

describe("rate limits", () => {
  it("are required in production where tokens are issued, naming the missing bindings", async () => {
    await refusedNaming("LOGIN_IP_LIMIT", /LOGIN_IP_LIMIT, LOGIN_ACCOUNT_LIMIT.*RATE_LIMITS = false/, {
      workerOptions: without("ratelimits", "LOGIN_IP_LIMIT", "LOGIN_ACCOUNT_LIMIT"),
    });
  });

  it("may be turned off explicitly: then login is not limited", async () => {
    gateway = await startGateway({
      vars: { RATE_LIMITS: "false" },
      workerOptions: without("ratelimits", ...Object.keys(production.ratelimits ?? {})),
    });
    for (let attempt = 0; attempt < 8; attempt += 1) expect((await loginAttempt(gateway)).status).toBe(200);
  });

  it("are a warning in development, not a refusal", async () => {
    gateway = await startGateway({
      vars: { PORTCULLIS_ENV: "development", SIGNING_KEYS: "" },
      workerOptions: without("ratelimits", "REFRESH_IP_LIMIT"),
    });
    expect((await gateway.fetch("/public/x")).status).toBe(200);
    const [line] = await gateway.waitForLog((entry) => entry.includes('"event":"rate_limits_missing"'));
    expect(JSON.parse(line ?? "{}")).toMatchObject({ level: "warn" });
    expect(line).toContain("REFRESH_IP_LIMIT");
  });
});

describe("password login", () => {
  it("PASSWORD_LOGIN = false turns POST /auth/login off: 404, nothing asked, no error logged", async () => {
    gateway = await startGateway({ vars: { PASSWORD_LOGIN: "false" } });
    const response = await loginAttempt(gateway);
    expect(response.status).toBe(404);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    expect(gateway.upstream.received.filter((request) => request.url.includes("credential-check"))).toEqual([]);
    await gateway.flushLogs();
    expect(gateway.logs.filter((line) => line.includes('"level":"error"'))).toEqual([]);
    // Everything else goes on: a token of the gateway's own still works.
    expect((await gateway.fetch("/public/x")).status).toBe(200);
  });

  it("is off without a credential check to ask (an OIDC-only deployment)", async () => {
    gateway = await startGateway({ omit: ["CREDENTIAL_CHECK_SECRET"] });
    expect((await loginAttempt(gateway)).status).toBe(404);
    await gateway.flushLogs();
    expect(gateway.logs.filter((line) => line.includes('"level":"error"'))).toEqual([]);
  });

  it("PASSWORD_LOGIN = true without the credential-check secret is a configuration error naming it", async () => {
    await refusedNaming("CREDENTIAL_CHECK_SECRET", /PASSWORD_LOGIN = false/, {
      vars: { PASSWORD_LOGIN: "true" },
      omit: ["CREDENTIAL_CHECK_SECRET"],
    });
  });

  it("is on by default where a credential check is configured", async () => {
    gateway = await startGateway();
    expect((await login(gateway)).accessToken).toBeTruthy();
  });
});
