/**
 * `portcullis check` says what the Worker says: for each class of mistake, the bundled
 * Worker started with a configuration answers 503 and logs `config_invalid` (or, for a near
 * miss, starts and warns), and the command run on a wrangler.toml with the same settings
 * exits 1 printing the very message of that log line (or exits 0 printing the warning). One
 * table drives both. A good configuration prints its route table; no secret's value is
 * ever printed.
 */
import { rmSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { runCli, writeProject } from "../support/cli";
import { AUDIENCE, ISSUER, startGateway } from "../support/gateway";
import { makeKey, TEST_SECRETS } from "../support/test-keys";

const key = await makeKey("EdDSA", "cli-check-key");
/** What .dev.vars holds: the CLI may read the names, never print a value. */
const SECRETS = {
  SIGNING_KEYS: JSON.stringify([key.privateJwk]),
  CREDENTIAL_CHECK_SECRET: TEST_SECRETS.CREDENTIAL_CHECK_SECRET,
  OPERATOR_TOKEN: TEST_SECRETS.OPERATOR_TOKEN,
};
const SECRET_VALUES = [key.privateJwk.d as string, TEST_SECRETS.CREDENTIAL_CHECK_SECRET, TEST_SECRETS.OPERATOR_TOKEN];
/** The vars startGateway gives the Worker besides ROUTES (its upstream's URL differs; it is not judged). */
const VARS = {
  PORTCULLIS_ENV: "production",
  UPSTREAM_URL: "https://api.example.com",
  TOKEN_ISSUER: ISSUER,
  TOKEN_AUDIENCE: AUDIENCE,
};
const ADMIN = { path: "/api/admin/*", scopes: ["admin"] };

const folders: string[] = [];
afterAll(() => {
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});

function project(vars: Record<string, unknown>, omit: readonly string[] = []) {
  const written = writeProject({ vars: { ...VARS, ...vars }, secrets: SECRETS, omit });
  folders.push(written.dir);
  return written;
}

function expectNoSecretValue(output: string): void {
  for (const value of SECRET_VALUES) expect(output).not.toContain(value);
}

/** Each mistake: the settings (for the Worker and for wrangler.toml alike) and a fragment of the message. */
const MISTAKES: readonly [string, Record<string, unknown>, string][] = [
  ["an unknown key", { ROUTES: [{ path: "/api/admin/*", scope: ["admin"] }] }, 'has "scope"; did you mean "scopes"?'],
  [
    "a capitalised key",
    { ROUTES: [{ path: "/api/admin/*", Scopes: ["admin"] }] },
    'has "Scopes"; did you mean "scopes"?',
  ],
  ["a key of another rule kind", { ROUTES: [{ path: "/api/admin/*", role: ["operator"] }] }, 'did you mean "roles"?'],
  [
    "a dead rule by prefix",
    { ROUTES: [{ path: "/api/*" }, ADMIN] },
    "rule 1 (/api/admin/*) can never decide anything: rule 0 (/api/*)",
  ],
  [
    'a dead rule by "*"',
    { ROUTES: [{ path: "*" }, ADMIN] },
    "rule 1 (/api/admin/*) can never decide anything: rule 0 (*)",
  ],
  [
    "a dead rule by method coverage",
    {
      ROUTES: [
        { path: "/api/*", methods: ["GET", "POST"] },
        { path: "/api/admin/*", methods: ["POST"], scopes: ["admin"] },
      ],
    },
    "rule 1 (/api/admin/* POST) can never decide anything: rule 0 (/api/* GET,POST)",
  ],
];

describe("portcullis check refuses what the Worker refuses, with its message", () => {
  it.each(MISTAKES)("%s", async (_name, vars, fragment) => {
    const [gateway, cli] = await Promise.all([
      startGateway({ vars: { ROUTES: JSON.stringify(vars.ROUTES) } }),
      runCli(["check", "--config", project(vars).config]),
    ]);
    try {
      const response = await gateway.fetch("/api/admin/stats");
      expect(response.status).toBe(503);
      await response.body?.cancel();
      const [line] = await gateway.waitForLog((entry) => entry.includes('"event":"config_invalid"'));
      const logged = JSON.parse(line ?? "{}") as { setting: string; detail: string };
      expect(logged.setting).toBe("ROUTES");
      expect(logged.detail).toContain(fragment);

      expect(cli.status, cli.output).toBe(1);
      expect(cli.stderr).toContain(`error: ${logged.detail}\n`);
      expect(cli.stderr).toContain("logs config_invalid naming ROUTES");
      expectNoSecretValue(cli.output);
    } finally {
      await gateway.close();
    }
  });

  it("warns of a near-miss variable as the Worker does, and passes", async () => {
    const vars = { ACESS_TOKEN_TTL: "60" };
    const [gateway, cli] = await Promise.all([
      startGateway({ vars }),
      runCli(["check", "--config", project(vars).config]),
    ]);
    try {
      const response = await gateway.fetch("/health");
      expect(response.status).toBe(200);
      await response.body?.cancel();
      const [line] = await gateway.waitForLog((entry) => entry.includes('"event":"setting_name_near_miss"'));
      const { detail } = JSON.parse(line ?? "{}") as { detail: string };
      expect(detail).toBe("ACESS_TOKEN_TTL is not a setting or binding of Portcullis; did you mean ACCESS_TOKEN_TTL?");
      expect(cli.status, cli.output).toBe(0);
      expect(cli.stderr).toContain(`warning: ${detail}\n`);
    } finally {
      await gateway.close();
    }
  });

  it("refuses a missing binding as the Worker does, naming it", async () => {
    const [gateway, cli] = await Promise.all([
      startGateway({ workerOptions: { kvNamespaces: {} } }),
      runCli(["check", "--config", project({}, ["REVOKED"]).config]),
    ]);
    try {
      const response = await gateway.fetch("/health");
      expect(response.status).toBe(503);
      await response.body?.cancel();
      const [line] = await gateway.waitForLog((entry) => entry.includes('"event":"config_invalid"'));
      const logged = JSON.parse(line ?? "{}") as { setting: string; detail: string };
      expect(logged.setting).toBe("REVOKED");
      expect(cli.status, cli.output).toBe(1);
      expect(cli.stderr).toContain(`error: ${logged.detail}\n`);
    } finally {
      await gateway.close();
    }
  });
});

describe("portcullis check on a good configuration", () => {
  it("prints the route table in order with what each rule requires, the overlaps, and exits 0", async () => {
    const routes = [
      { path: "/health", public: true },
      { path: "/api/admin/*", scopes: ["admin"], revocation: "strict" },
      { path: "/api/orders/*", methods: ["DELETE"], roles: ["clerk"] },
      { path: "/api/*", methods: ["GET"], unauthenticated: "challenge" },
    ];
    const cli = await runCli(["check", "--config", project({ ROUTES: routes }).config]);
    expect(cli.status, cli.output).toBe(0);
    const table = cli.stdout
      .split("\n")
      .filter((line) => /^ {2}[-#\d] /.test(line))
      .map((line) => line.trim().split(/\s{2,}/));
    expect(table).toEqual([
      ["#", "path", "methods", "requires"],
      ["0", "/health", "any", "public"],
      ["1", "/api/admin/*", "any", "scopes admin; strict revocation"],
      ["2", "/api/orders/*", "DELETE", "roles clerk"],
      ["3", "/api/*", "GET (and HEAD)", "any valid token; unauthenticated: challenge"],
      ["-", "(no rule matches)", "any", "any valid token"],
    ]);
    expect(cli.stdout).toContain(
      "rule 3 (/api/* GET): for GET, HEAD on the paths of /api/admin/*, rule 1 (/api/admin/*) decides first",
    );
    for (const name of Object.keys(SECRETS)) expect(cli.stdout).toContain(`${name} (.dev.vars)`);
    expect(cli.stdout).toContain("OK: the configuration passes every check the Worker makes at start.");
    expectNoSecretValue(cli.output);
  });

  it("takes secret names from --secret, and refuses a production config without a signing key", async () => {
    const written = writeProject({ vars: VARS });
    folders.push(written.dir);
    const without = await runCli(["check", "--config", written.config]);
    expect(without.status).toBe(1);
    expect(without.stderr).toContain("error: SIGNING_KEYS: is required");
    expect(without.stderr).toContain("hint: SIGNING_KEYS is a secret: if it is set (wrangler secret put), name it");
    const named = await runCli(["check", "--config", written.config, "--secret", "SIGNING_KEYS"]);
    expect(named.status, named.output).toBe(0);
    expect(named.stdout).toContain("SIGNING_KEYS (--secret)");
  });
});
