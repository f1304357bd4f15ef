/** The operator scripts: key generation and the production deploy check. */
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { importJWK } from "jose";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../..");
const NODE = process.execPath;
const work = mkdtempSync(path.join(tmpdir(), "portcullis-scripts-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("npm run keygen", () => {
  it.each(["EdDSA", "ES256", "RS256"])("makes an importable %s private key with kid and alg", async (alg) => {
    const output = execFileSync(NODE, [path.join(ROOT, "scripts/keygen.mjs"), "--alg", alg], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    const [key] = JSON.parse(output) as Array<Record<string, string>>;
    expect(key).toMatchObject({ alg, use: "sig" });
    expect(key?.kid).toMatch(/^\d{4}-\d{2}-\d{2}-/);
    expect(key?.d).toBeTypeOf("string");
    await expect(importJWK(key as never, alg)).resolves.toBeDefined();
  });

  it("prints the new key alone, and a rotation that needs no current private key", () => {
    const run = spawnSync(NODE, [path.join(ROOT, "scripts/keygen.mjs")], { encoding: "utf8" });
    expect(run.status).toBe(0);
    const keys = JSON.parse(run.stdout) as Array<Record<string, string>>;
    expect(keys).toHaveLength(1);
    // The retired key's public half comes from the JWKS; the new key alone goes into SIGNING_KEYS.
    expect(run.stderr).toContain("/.well-known/jwks.json | npx wrangler secret put SIGNING_KEYS_PREVIOUS");
    expect(run.stderr).toContain("npm run -s keygen | npx wrangler secret put SIGNING_KEYS --env production");
    expect(run.stderr).toContain("npx wrangler secret delete SIGNING_KEYS_PREVIOUS");
    expect(run.stderr).not.toContain("<current SIGNING_KEYS>");
    expect(run.stderr).not.toContain(String(keys[0]?.d));
  });

  it("keeps the current keys when adding one for rotation", () => {
    const first = execFileSync(NODE, [path.join(ROOT, "scripts/keygen.mjs")], { encoding: "utf8", stdio: "pipe" });
    const both = JSON.parse(
      execFileSync(NODE, [path.join(ROOT, "scripts/keygen.mjs"), "--add", first.trim()], {
        encoding: "utf8",
        stdio: "pipe",
      }),
    ) as unknown[];
    expect(both).toHaveLength(2);
    expect(both[0]).toEqual(JSON.parse(first)[0]);
  });
});

describe("npm run deploy's check", () => {
  function check(edit: (toml: string) => string): { status: number | null; output: string } {
    const dir = mkdtempSync(path.join(work, "deploy-"));
    cpSync(path.join(ROOT, "src"), path.join(dir, "src"), { recursive: true });
    writeFileSync(path.join(dir, "wrangler.toml"), edit(readFileSync(path.join(ROOT, "wrangler.toml"), "utf8")));
    const result = spawnSync(NODE, [path.join(ROOT, "scripts/check-deploy.mjs")], {
      cwd: dir,
      encoding: "utf8",
      env: { ...process.env, WRANGLER_LOG: "error", WRANGLER_SEND_METRICS: "false" },
    });
    return { status: result.status, output: result.stdout + result.stderr };
  }

  const ready = (toml: string) =>
    toml
      .replace('UPSTREAM_URL = ""', 'UPSTREAM_URL = "https://api.example.com"')
      .replace('TOKEN_ISSUER = ""', 'TOKEN_ISSUER = "https://auth.example.com"')
      .replace('TOKEN_AUDIENCE = ""', 'TOKEN_AUDIENCE = "example-api"')
      .replace("REPLACE_WITH_KV_NAMESPACE_ID", "0123456789abcdef0123456789abcdef");

  it("refuses the repository's wrangler.toml as it is, naming what is missing", () => {
    const { status, output } = check((toml) => toml);
    expect(status).toBe(1);
    expect(output).toContain("UPSTREAM_URL is empty");
    expect(output).toContain("REVOKED KV namespace id");
  });

  it("refuses a secret put in vars", () => {
    const { status, output } = check((toml) =>
      ready(toml).replace('PORTCULLIS_ENV = "production"', 'PORTCULLIS_ENV = "production"\nSIGNING_KEYS = "[]"'),
    );
    expect(status).toBe(1);
    expect(output).toContain("SIGNING_KEYS is a secret");
  });

  it("passes a ready production config", () => {
    const { status, output } = check(ready);
    expect(output).toContain("looks ready");
    expect(status).toBe(0);
  });
});
