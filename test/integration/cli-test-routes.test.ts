/**
 * `portcullis test-routes`: the cases this repository ships (examples/routes.test.json)
 * pass against its wrangler.toml's development routes; a case that disagrees fails the run
 * (exit 1), named, with its explanation; a mistaken case file cannot run (exit 2).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli, writeProject } from "../support/cli";
import { TEST_SECRETS } from "../support/test-keys";

const work = mkdtempSync(path.join(tmpdir(), "portcullis-cases-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function casesFile(cases: unknown): string {
  const file = path.join(work, `cases-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(cases));
  return file;
}

describe("portcullis test-routes", () => {
  it("passes the examples against the repository's wrangler.toml (development routes)", async () => {
    const run = await runCli(["test-routes", "examples/routes.test.json"]);
    expect(run.status, run.output).toBe(0);
    expect(run.stdout).toMatch(/^(\d+) cases: \1 passed, 0 failed$/m);
    expect(run.stdout).not.toContain("FAIL");
  });

  it("fails on a case that disagrees, naming it and explaining the answer", async () => {
    const file = casesFile([
      { name: "the home page is public", request: "GET /", expect: "public" },
      {
        name: "readers may see the admin stats",
        request: "GET /api/admin/stats",
        identity: { scope: "read" },
        expect: "allowed",
      },
    ]);
    const run = await runCli(["test-routes", file]);
    expect(run.status, run.output).toBe(1);
    expect(run.stdout).toContain("  ok    the home page is public: GET / → forwarded (public)");
    expect(run.stdout).toContain(
      '  FAIL  readers may see the admin stats: GET /api/admin/stats → 403 insufficient_scope, expected "allowed"',
    );
    expect(run.stdout).toContain("yes rule 3 (/api/admin/*: scopes admin): the path matches");
    expect(run.stdout).toContain("2 cases: 1 passed, 1 failed");
  });

  it("judges route conditions on a case's claims, CF-Connecting-IP header and cf", async () => {
    const project = writeProject({
      vars: {
        PORTCULLIS_ENV: "production",
        UPSTREAM_URL: "https://api.example.com",
        TOKEN_ISSUER: "https://gateway.test",
        TOKEN_AUDIENCE: "test-api",
        ROUTES: [
          { path: "/eu/*", require: { all: [{ country: ["DE", "FR"] }, { not: { asn: [64496] } }] } },
          { path: "/admin/*", require: { any: [{ groups: ["admins"] }, { ip: ["203.0.113.0/24"] }] } },
        ],
      },
      secrets: { SIGNING_KEYS: "[]", CREDENTIAL_CHECK_SECRET: TEST_SECRETS.CREDENTIAL_CHECK_SECRET },
    });
    try {
      const file = casesFile([
        { request: "GET /eu/x", identity: {}, cf: { country: "DE", asn: 13335 }, expect: "allowed" },
        { request: "GET /eu/x", identity: {}, cf: { country: "DE", asn: 64496 }, expect: 403 },
        { request: "GET /eu/x", identity: {}, cf: { country: "US" }, expect: 403 },
        { request: "GET /eu/x", identity: {}, expect: 403 },
        { request: "GET /admin/x", identity: { groups: ["admins"] }, expect: "allowed" },
        { request: "GET /admin/x", identity: {}, headers: { "CF-Connecting-IP": "203.0.113.9" }, expect: "allowed" },
        { request: "GET /admin/x", identity: {}, headers: { "CF-Connecting-IP": "198.51.100.9" }, expect: 403 },
      ]);
      const run = await runCli(["test-routes", file, "--config", project.config]);
      expect(run.status, run.output).toBe(0);
      expect(run.stdout).toContain("7 cases: 7 passed, 0 failed");
      const bad = await runCli(["test-routes", casesFile([{ request: "GET /", cf: "DE", expect: 200 }])]);
      expect(bad.status).toBe(2);
      expect(bad.stderr).toContain('case 0: "cf" must be an object, as request.cf is');
    } finally {
      rmSync(project.dir, { recursive: true, force: true });
    }
  });

  it("cannot run a case file with a mistaken key, and names it", async () => {
    const run = await runCli(["test-routes", casesFile([{ request: "GET /", expects: 200 }])]);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('case 0: has "expects"; did you mean "expect"?');
  });
});
