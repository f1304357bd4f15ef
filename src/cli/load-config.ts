/**
 * The configuration a user's Worker would start with, made by the Worker's own code: the
 * env it would get (the vars of the environment, a stand-in for each secret and binding;
 * stand-ins.ts) goes through `parseConfig` and `checkedConfig`, so every check the Worker
 * makes at start is made here, with the same messages. A refusal is the ConfigError the
 * Worker would log as `config_invalid`; the warnings are those it would log at start.
 */
import type { GatewayConfig } from "../config/config";
import { type ConfigEnv, SECRET_NAMES } from "../config/env";
import { ConfigError, checkedConfig, type ParseOptions, parseConfig } from "../config/parse-config";
import { standInBinding, standInSecrets } from "./stand-ins";
import { type ProjectOptions, readProject, type WorkerProject } from "./wrangler-project";

const SECRETS: ReadonlySet<string> = new Set(SECRET_NAMES);

export interface LoadedConfig {
  /** The config the Worker would run with; undefined when it refuses to start. */
  readonly config: GatewayConfig | undefined;
  /** What the Worker would log as `config_invalid` (every request then answers 503). */
  readonly error: ConfigError | undefined;
  /** What it would log as warnings at start (`setting_name_near_miss`, `rate_limits_missing`). */
  readonly warnings: readonly string[];
  /** What the check could not see, in sentences. */
  readonly notes: readonly string[];
  /** With `error`, what to do when it names a secret that is set but was not named here. */
  readonly hint: string | undefined;
  /** Portcullis runs inside the user's own Hono app (portcullis/hono). */
  readonly hono: boolean;
}

export interface LoadOptions {
  /** Check as portcullis/hono does (UPSTREAM_URL optional, a credential check in code); default: as `main` says. */
  readonly hono?: boolean;
}

/** The env the Worker would get: vars, then a stand-in for each secret and binding. */
async function standInEnv(project: WorkerProject, notes: string[]): Promise<ConfigEnv> {
  const secretNames = project.secrets.map((secret) => secret.name).filter((name) => !(name in project.vars));
  for (const secret of project.secrets) {
    if (secret.name in project.vars) {
      notes.push(`${secret.name} is named as a secret (${secret.from}) and set in vars: the var's value was checked`);
    }
  }
  const { values, unreadable } = await standInSecrets(secretNames, project.vars);
  for (const name of unreadable) {
    notes.push(`${name} is set as a secret: its value is not read, so it was not checked`);
  }
  const bindings = Object.fromEntries(project.bindings.map((binding) => [binding.name, standInBinding(binding.kind)]));
  return { ...project.vars, ...values, ...bindings } as ConfigEnv;
}

/** Parses and checks the project's configuration as its Worker would at start. */
export async function loadConfig(project: WorkerProject, options: LoadOptions = {}): Promise<LoadedConfig> {
  const notes: string[] = [];
  const hono = options.hono ?? project.importsHono;
  const env = await standInEnv(project, notes);
  // portcullis/hono's own parse (config/embedded-config.ts): no upstream needed, login may be checked in code.
  const parseOptions: ParseOptions = hono ? { requireUpstream: false, credentialCheckInCode: true } : {};
  if (hono) {
    notes.push("settings your app gives portcullis/hono in code (`settings`) are not seen here");
    if (project.vars.ROUTES !== undefined) {
      notes.push("ROUTES is not used by portcullis/hono: what is protected is where your app mounts portcullis()");
    }
  }
  const warnings: string[] = [];
  try {
    const config = checkedConfig(env, parseConfig(env, parseOptions), (_event, fields) => warnings.push(fields.detail));
    return { config, error: undefined, warnings, notes, hono, hint: undefined };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return { config: undefined, error, warnings, notes, hono, hint: secretHint(project, error.setting) };
  }
}

/** A secret the Worker needs, not named: it may well be set, where the check cannot see it. */
function secretHint(project: WorkerProject, setting: string): string | undefined {
  if (!SECRETS.has(setting) || project.secrets.some((secret) => secret.name === setting)) return undefined;
  const devVars = project.environment === undefined ? ".dev.vars" : `.dev.vars.${project.environment}`;
  return `${setting} is a secret: if it is set (wrangler secret put), name it with --secret ${setting} or in ${devVars}; its value is not needed`;
}

/** The options every command takes: which configuration, environment and secrets, and how Portcullis runs. */
export type ConfigOptions = ProjectOptions & LoadOptions;

/** Reads the project and loads its configuration, as every command starts. */
export async function openConfig(options: ConfigOptions): Promise<{ project: WorkerProject; loaded: LoadedConfig }> {
  const project = await readProject(options);
  return { project, loaded: await loadConfig(project, options) };
}
