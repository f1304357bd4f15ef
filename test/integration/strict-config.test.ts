/**
 * A mistaken rule stops the gateway instead of running weaker (issue: configuration that
 * means what it says), through the bundled Worker: each configuration of the table,
 * and each class of mistake, answers every request 503 and logs one `config_invalid` line
 * naming ROUTES and what is wrong; a near-miss variable starts, with a warning naming it.
 * The same messages through `portcullis check`: test/integration/cli-check.test.ts.
 */
import { afterEach, describe, expect, it } from "vitest";
import { type Gateway, startGateway } from "../support/gateway";
import { mintToken } from "../support/tokens";

let gateway: Gateway | undefined;
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});

const ADMIN = { path: "/api/admin/*", scopes: ["admin"] };

async function refused(routes: unknown[], message: string): Promise<void> {
  gateway = await startGateway({ vars: { ROUTES: JSON.stringify(routes) } });
  // A user with `read write` only: before, every one of these reached the admin route.
  const token = await mintToken(gateway.key, { claims: { scope: "read write" } });
  const response = await gateway.fetch("/api/admin/stats", { headers: { authorization: `Bearer ${token}` } });
  expect(response.status).toBe(503);
  await response.body?.cancel();
  const [line] = await gateway.waitForLog((entry) => entry.includes('"event":"config_invalid"'));
  expect(JSON.parse(line ?? "{}")).toMatchObject({ level: "error", setting: "ROUTES" });
  expect(JSON.parse(line ?? "{}").detail).toContain(message);
}

describe("the issue's table: none of these runs", () => {
  it.each([
    ["singular scope", [{ path: "/api/admin/*", scope: ["admin"] }], 'has "scope"; did you mean "scopes"?'],
    ["role instead of roles", [{ path: "/api/admin/*", role: ["operator"] }], 'has "role"; did you mean "roles"?'],
    ["a capitalised key", [{ path: "/api/admin/*", Scopes: ["admin"] }], 'has "Scopes"; did you mean "scopes"?'],
    [
      "method instead of methods",
      [{ path: "/api/admin/*", method: ["GET"], public: true }],
      'has "method"; did you mean "methods"?',
    ],
    [
      "a prefix before the admin rule",
      [{ path: "/api/*" }, ADMIN],
      "rule 1 (/api/admin/*) can never decide anything: rule 0 (/api/*)",
    ],
    ['"*" first', [{ path: "*" }, ADMIN], "rule 1 (/api/admin/*) can never decide anything: rule 0 (*)"],
    [
      "an earlier rule for every method it names",
      [
        { path: "/api/*", methods: ["GET", "POST"] },
        { path: "/api/admin/*", methods: ["POST"], scopes: ["admin"] },
      ],
      "rule 1 (/api/admin/* POST) can never decide anything: rule 0 (/api/* GET,POST)",
    ],
  ])("%s", async (_name, routes, message) => {
    await refused(routes, message);
  });
});

describe("near misses", () => {
  it("starts, and warns about a variable that is almost a setting", async () => {
    gateway = await startGateway({ vars: { ACESS_TOKEN_TTL: "60", ALLOWED_ORIGIN: "https://app.example" } });
    expect((await gateway.fetch("/health")).status).toBe(200);
    const lines = await gateway.waitForLog((entry) => entry.includes('"event":"setting_name_near_miss"'), 2);
    expect(lines.join("\n")).toContain(
      "ACESS_TOKEN_TTL is not a setting or binding of Portcullis; did you mean ACCESS_TOKEN_TTL?",
    );
    expect(lines.join("\n")).toContain("did you mean ALLOWED_ORIGINS?");
    for (const line of lines) expect(JSON.parse(line)).toMatchObject({ level: "warn" });
  });
});
