/**
 * The user's Worker as wrangler deploys it, for every `portcullis` command: the
 * configuration read with wrangler's own reader (`unstable_readConfig`, so environments
 * inherit and override as `wrangler deploy` does), the vars of the chosen environment as
 * the Worker gets them, its bindings with their kinds, and the **names** of the secrets set
 * for it. A secret's value is never read: `.dev.vars` files are parsed for their names only.
 *
 * wrangler is the user's own (a devDependency of every Workers project); it is imported
 * when a command runs, so the package does not depend on it.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseEnv } from "node:util";
import type { Unstable_Config } from "wrangler";
import { CliError } from "./output";

/** The kinds of binding Portcullis tells apart (config/bindings.ts); every other kind is "other". */
export type BindingKind = "kv" | "durable-object" | "rate-limit" | "service" | "analytics-engine" | "other";

export interface DeclaredBinding {
  readonly name: string;
  readonly kind: BindingKind;
  /** wrangler.toml's name for the kind ("kv_namespaces"), for the report. */
  readonly declaredAs: string;
}

export interface SecretName {
  readonly name: string;
  /** Where the name was found: ".dev.vars", "[secrets] required", "--secret". */
  readonly from: string;
}

export interface WorkerProject {
  readonly configPath: string;
  /** The environment (`--env`), undefined for the top level. */
  readonly environment: string | undefined;
  readonly vars: Readonly<Record<string, unknown>>;
  readonly secrets: readonly SecretName[];
  readonly bindings: readonly DeclaredBinding[];
  /** The Worker's entry (`main`) imports portcullis/hono: Portcullis runs inside the user's own app. */
  readonly importsHono: boolean;
}

export interface ProjectOptions {
  /** The configuration file; undefined: wrangler's own lookup (wrangler.json, wrangler.jsonc, wrangler.toml). */
  readonly config?: string | undefined;
  readonly environment?: string | undefined;
  /** Secret names given on the command line. */
  readonly secrets?: readonly string[];
}

type Listed = readonly { readonly [field: string]: unknown }[] | undefined;

/** Each list of bindings in a wrangler configuration: where it is, the field naming a binding, its kind. */
const BINDING_LISTS: readonly [string, (config: Unstable_Config) => Listed, string, BindingKind][] = [
  ["kv_namespaces", (config) => config.kv_namespaces, "binding", "kv"],
  ["durable_objects", (config) => config.durable_objects?.bindings, "name", "durable-object"],
  ["ratelimits", (config) => config.ratelimits, "name", "rate-limit"],
  ["services", (config) => config.services, "binding", "service"],
  ["analytics_engine_datasets", (config) => config.analytics_engine_datasets, "binding", "analytics-engine"],
  ["d1_databases", (config) => config.d1_databases, "binding", "other"],
  ["r2_buckets", (config) => config.r2_buckets, "binding", "other"],
  ["queues.producers", (config) => config.queues?.producers, "binding", "other"],
  ["hyperdrive", (config) => config.hyperdrive, "binding", "other"],
  ["vectorize", (config) => config.vectorize, "binding", "other"],
  ["workflows", (config) => config.workflows, "binding", "other"],
  ["send_email", (config) => config.send_email, "name", "other"],
  ["dispatch_namespaces", (config) => config.dispatch_namespaces, "binding", "other"],
  ["mtls_certificates", (config) => config.mtls_certificates, "binding", "other"],
  ["secrets_store_secrets", (config) => config.secrets_store_secrets, "binding", "other"],
  ["unsafe.bindings", (config) => config.unsafe?.bindings ?? undefined, "name", "other"],
];

/** Bindings declared as one object with a `binding` field. */
const SINGLE_BINDINGS: readonly [string, (config: Unstable_Config) => { binding?: string } | undefined][] = [
  ["ai", (config) => config.ai],
  ["browser", (config) => config.browser],
  ["images", (config) => config.images],
  ["version_metadata", (config) => config.version_metadata],
  ["assets", (config) => config.assets],
];

function declaredBindings(config: Unstable_Config): DeclaredBinding[] {
  const found: DeclaredBinding[] = [];
  for (const [declaredAs, list, field, kind] of BINDING_LISTS) {
    for (const entry of list(config) ?? []) {
      const name = entry[field];
      if (typeof name === "string") found.push({ name, kind, declaredAs });
    }
  }
  for (const [declaredAs, single] of SINGLE_BINDINGS) {
    const name = single(config)?.binding;
    if (typeof name === "string") found.push({ name, kind: "other", declaredAs });
  }
  for (const [declaredAs, blobs] of [
    ["text_blobs", config.text_blobs],
    ["data_blobs", config.data_blobs],
    ["wasm_modules", config.wasm_modules],
  ] as const) {
    for (const name of Object.keys(blobs ?? {})) found.push({ name, kind: "other", declaredAs });
  }
  return found;
}

/**
 * The names in the `.dev.vars` file `wrangler dev` would read for this environment:
 * `.dev.vars.<env>` when there is one, else `.dev.vars`. Values are parsed and dropped.
 */
function devVarsNames(directory: string, environment: string | undefined): SecretName[] {
  const candidates = environment === undefined ? [".dev.vars"] : [`.dev.vars.${environment}`, ".dev.vars"];
  const file = candidates.find((name) => existsSync(path.join(directory, name)));
  if (file === undefined) return [];
  let names: string[];
  try {
    names = Object.keys(parseEnv(readFileSync(path.join(directory, file), "utf8")));
  } catch (error) {
    throw new CliError("input", `cannot read ${file} next to the configuration`, { cause: error });
  }
  return names.map((name) => ({ name, from: file }));
}

async function wranglerReader(): Promise<typeof import("wrangler")["unstable_readConfig"]> {
  // wrangler's own warnings (an environment that does not inherit a binding) are its business.
  process.env.WRANGLER_LOG ??= "error";
  try {
    return (await import("wrangler")).unstable_readConfig;
  } catch (error) {
    throw new CliError(
      "wrangler",
      "portcullis reads your wrangler configuration with wrangler's own reader: install wrangler in this project (npm install --save-dev wrangler)",
      { cause: error },
    );
  }
}

/** Reads the user's Worker: its configuration, the vars of `environment`, bindings and secret names. */
export async function readProject(options: ProjectOptions): Promise<WorkerProject> {
  const readConfig = await wranglerReader();
  if (options.config !== undefined && !existsSync(options.config)) {
    throw new CliError("input", `no such configuration file: ${options.config}`);
  }
  let config: Unstable_Config;
  try {
    config = readConfig({ config: options.config, env: options.environment }, { hideWarnings: true });
  } catch (error) {
    throw new CliError("input", `wrangler cannot read the configuration: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (config.configPath === undefined) {
    throw new CliError(
      "input",
      "no wrangler configuration here (wrangler.json, wrangler.jsonc or wrangler.toml); name one with --config",
    );
  }
  const environment = options.environment;
  if (environment !== undefined && !(config.definedEnvironments ?? []).includes(environment)) {
    throw new CliError("input", `${path.basename(config.configPath)} has no environment "${environment}"`);
  }
  const directory = path.dirname(config.configPath);
  const secrets = [
    ...devVarsNames(directory, environment),
    ...(config.secrets?.required ?? []).map((name) => ({ name, from: "[secrets] required" })),
    ...(options.secrets ?? []).map((name) => ({ name, from: "--secret" })),
  ];
  const main = config.main === undefined ? undefined : path.resolve(directory, config.main);
  const importsHono =
    main !== undefined && existsSync(main) && /["']portcullis\/hono["']/.test(readFileSync(main, "utf8"));
  return {
    configPath: config.configPath,
    environment,
    vars: Object.freeze({ ...(config.vars ?? {}) }),
    secrets: secrets.filter((secret, index) => secrets.findIndex((other) => other.name === secret.name) === index),
    bindings: declaredBindings(config),
    importsHono,
  };
}
