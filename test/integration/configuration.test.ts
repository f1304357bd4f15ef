/**
 * A wrong or missing setting gives one clear error naming the setting (in the log), a
 * generic 503 to the client, no stack trace and no secret anywhere. Production refuses
 * the repository's development-only keys.
 */
import { afterEach, describe, expect, it } from "vitest";
import { DEV_CREDENTIAL_CHECK_SECRET, DEV_SIGNING_KEY } from "../../src/config/dev-keys";
import { type Gateway, startGateway } from "../support/gateway";
import { TEST_SECRETS } from "../support/test-keys";

let gateway: Gateway | undefined;
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});

async function refusedNaming(setting: string, options: Parameters<typeof startGateway>[0]): Promise<void> {
  gateway = await startGateway(options);
  const response = await gateway.fetch("/api/x");
  expect(response.status).toBe(503);
  expect(response.headers.get("content-type")).toBe("application/problem+json");
  const body = await response.text();
  expect(body).not.toMatch(/at .*\.js|Error:/);
  const configErrors = await gateway.waitForLog((line) => line.includes('"event":"config_invalid"'));
  expect(JSON.parse(configErrors[0] as string).setting).toBe(setting);
}

describe("configuration errors", () => {
  it.each([
    ["TOKEN_ISSUER", { omit: ["TOKEN_ISSUER"] }],
    ["TOKEN_AUDIENCE", { vars: { TOKEN_AUDIENCE: "" } }],
    ["UPSTREAM_URL", { vars: { UPSTREAM_URL: "" } }],
    ["UPSTREAM_URL", { vars: { UPSTREAM_URL: "ftp://example.test" } }],
    ["ACCESS_TOKEN_TTL", { vars: { ACCESS_TOKEN_TTL: "15m" } }],
    ["ROUTES", { vars: { ROUTES: "[{]" } }],
    ["ROUTES", { vars: { ROUTES: JSON.stringify([{ path: "/a*b", public: true }]) } }],
    ["SIGNING_KEYS", { vars: { SIGNING_KEYS: "not json" } }],
    ["SIGNING_KEYS_PREVIOUS", { vars: { SIGNING_KEYS_PREVIOUS: "[]" } }],
    ["OPERATOR_TOKEN_PREVIOUS", { vars: { OPERATOR_TOKEN_PREVIOUS: "short" } }],
    ["COOKIE_SAMESITE", { vars: { COOKIE_SAMESITE: "sometimes" } }],
    ["ROTATION_RECORD", { vars: { ROTATION_RECORD: "nowhere" } }],
    ["PORTCULLIS_ENV", { vars: { PORTCULLIS_ENV: "staging" } }],
  ] as const)("names %s when it is missing or wrong", async (setting, options) => {
    await refusedNaming(setting, options);
  });

  it("refuses the development signing key in production", async () => {
    await refusedNaming("SIGNING_KEYS", { vars: { SIGNING_KEYS: JSON.stringify([DEV_SIGNING_KEY]) } });
  });

  it("refuses the development credential-check secret in production", async () => {
    await refusedNaming("CREDENTIAL_CHECK_SECRET", { vars: { CREDENTIAL_CHECK_SECRET: DEV_CREDENTIAL_CHECK_SECRET } });
  });

  it("refuses a secret that is too short, without logging it", async () => {
    await refusedNaming("CREDENTIAL_CHECK_SECRET", { vars: { CREDENTIAL_CHECK_SECRET: "short-secret-xyz" } });
    expect(gateway?.logs.join("\n")).not.toContain("short-secret-xyz");
  });

  it("serves when ACTIVE_SIGNING_KID names no key of SIGNING_KEYS (they deploy apart), and says so at error level", async () => {
    gateway = await startGateway({ vars: { ACTIVE_SIGNING_KID: "missing" } });
    expect((await gateway.fetch("/public/x")).status).toBe(200);
    const [line] = await gateway.waitForLog((text) => text.includes('"event":"signing_key_fallback"'));
    expect(JSON.parse(line as string)).toMatchObject({ level: "error", setting: "ACTIVE_SIGNING_KID" });
  });

  it("never writes a configured secret or key to the log", async () => {
    gateway = await startGateway({ vars: { ACTIVE_SIGNING_KID: "missing", ROTATION_RECORD: "nowhere" } });
    await gateway.fetch("/api/x");
    await gateway.waitForLog((line) => line.includes('"event":"config_invalid"'));
    const logs = gateway.logs.join("\n");
    for (const secret of [
      TEST_SECRETS.CREDENTIAL_CHECK_SECRET,
      TEST_SECRETS.OPERATOR_TOKEN,
      gateway.key.privateJwk.d,
    ]) {
      expect(logs).not.toContain(secret);
    }
  });
});

describe("development mode", () => {
  it("serves only localhost, so a deployed development config refuses to work", async () => {
    gateway = await startGateway({ vars: { PORTCULLIS_ENV: "development", SIGNING_KEYS: "" } });
    const local = await gateway.fetch("/public/x");
    expect(local.status).toBe(200);
    const remote = await gateway.mf.dispatchFetch("https://portcullis.example.workers.dev/public/x");
    expect(remote.status).toBe(503);
    await gateway.waitForLog((line) => line.includes('"setting":"PORTCULLIS_ENV"'));
  });
});
