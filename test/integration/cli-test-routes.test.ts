/**
 * `portcullis test-routes`: the cases this repository ships (examples/routes.test.json)
 * pass against its wrangler.toml's development routes; a case that disagrees fails the run
 * (exit 1), named, with its explanation; a mistaken case file cannot run (exit 2).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli";

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

  it("cannot run a case file with a mistaken key, and names it", async () => {
    const run = await runCli(["test-routes", casesFile([{ request: "GET /", expects: 200 }])]);
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('case 0: has "expects"; did you mean "expect"?');
  });
});
