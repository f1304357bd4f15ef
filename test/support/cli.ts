/**
 * Running the `portcullis` command as a user does (node scripts/portcullis.mjs, which
 * bundles src/cli in this repository), and the small Worker projects it runs against: a
 * wrangler.toml with the bindings of the repository's [env.production] and the vars given,
 * and a .dev.vars whose names are the secrets set.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ROOT } from "./build-worker";

export interface CliRun {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout and stderr together. */
  readonly output: string;
}

const SCRIPT = path.join(ROOT, "scripts/portcullis.mjs");

/** Runs `portcullis ...args` in `cwd`; resolves with its exit status and output, whatever the status. */
export function runCli(args: readonly string[], cwd: string = ROOT): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [SCRIPT, ...args],
      { cwd, encoding: "utf8", env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" } },
      (error, stdout, stderr) => {
        const status = error === null ? 0 : typeof error.code === "number" ? error.code : undefined;
        if (status === undefined) reject(error);
        else resolve({ status, stdout, stderr, output: `${stdout}\n${stderr}` });
      },
    );
  });
}

/** A value as TOML writes it inline (strings, booleans, numbers, lists and inline tables). */
export function toToml(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return `[${value.map(toToml).join(", ")}]`;
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value).map(([key, item]) => `${JSON.stringify(key)} = ${toToml(item)}`);
    return `{ ${entries.join(", ")} }`;
  }
  throw new Error(`no TOML for ${String(value)}`);
}

const DURABLE_OBJECTS: Readonly<Record<string, string>> = {
  SESSIONS: "SessionObject",
  IDP_LOGOUT_INDEX: "IdpLogoutIndex",
  REVOCATIONS: "RevocationLedger",
  SUBJECT_SESSIONS: "SubjectSessions",
};
const RATE_LIMITS = ["LOGIN_IP_LIMIT", "LOGIN_ACCOUNT_LIMIT", "REFRESH_IP_LIMIT", "REFRESH_SESSION_LIMIT"];

/** The bindings of the repository's [env.production], at the top level of a test project, but `omit`. */
function bindings(omit: readonly string[]): string {
  const lines: string[] = [];
  if (!omit.includes("REVOKED")) lines.push("[[kv_namespaces]]", 'binding = "REVOKED"', 'id = "cli-test-revoked"');
  const classes: string[] = [];
  for (const [name, className] of Object.entries(DURABLE_OBJECTS)) {
    if (omit.includes(name)) continue;
    lines.push("[[durable_objects.bindings]]", `name = "${name}"`, `class_name = "${className}"`);
    classes.push(className);
  }
  lines.push("[[migrations]]", 'tag = "v1"', `new_sqlite_classes = ${toToml(classes)}`);
  for (const [index, name] of RATE_LIMITS.entries()) {
    if (omit.includes(name)) continue;
    lines.push(
      "[[ratelimits]]",
      `name = "${name}"`,
      `namespace_id = "${1001 + index}"`,
      "simple = { limit = 10, period = 60 }",
    );
  }
  return lines.join("\n");
}

export interface TestProject {
  readonly dir: string;
  readonly config: string;
}

export interface TestProjectOptions {
  /** The vars of the top level, as TOML values. */
  readonly vars: Readonly<Record<string, unknown>>;
  /** The secrets' names and values, written into .dev.vars (the CLI must read the names only). */
  readonly secrets?: Readonly<Record<string, string>>;
  /** Bindings to leave out. */
  readonly omit?: readonly string[];
  /** Service bindings to declare (`[[services]]`), by binding name. */
  readonly services?: readonly string[];
}

/** A Worker project in a fresh temporary folder: wrangler.toml and .dev.vars. */
export function writeProject(options: TestProjectOptions): TestProject {
  const dir = mkdtempSync(path.join(tmpdir(), "portcullis-cli-"));
  const vars = Object.entries(options.vars).map(([name, value]) => `${name} = ${toToml(value)}`);
  const toml = [
    'name = "cli-test"',
    'compatibility_date = "2026-04-01"',
    "",
    "[vars]",
    ...vars,
    "",
    bindings(options.omit ?? []),
    ...(options.services ?? []).flatMap((name) => [
      "[[services]]",
      `binding = "${name}"`,
      `service = "${name.toLowerCase()}-worker"`,
    ]),
  ].join("\n");
  const config = path.join(dir, "wrangler.toml");
  writeFileSync(config, toml);
  const secrets = Object.entries(options.secrets ?? {}).map(([name, value]) => `${name}='${value}'`);
  if (secrets.length > 0) writeFileSync(path.join(dir, ".dev.vars"), `${secrets.join("\n")}\n`);
  return { dir, config };
}
