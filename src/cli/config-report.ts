/**
 * What every command says about the configuration it read before its own report: which
 * file and environment, the secrets it stood in for (by name), the bindings, then what the
 * Worker would log at start (its warnings, and the `config_invalid` refusal, word for word).
 */
import path from "node:path";
import type { LoadedConfig } from "./load-config";
import { type CliOutput, EXIT } from "./output";
import type { WorkerProject } from "./wrangler-project";

const KIND_NAMES = {
  kv: "KV namespace",
  "durable-object": "Durable Object",
  "rate-limit": "rate limit",
  service: "service",
  "analytics-engine": "Analytics Engine",
  other: "",
} as const;

/** "wrangler.toml [env.production]" or "wrangler.toml (top level)". */
export function configName(project: WorkerProject): string {
  const relative = path.relative(process.cwd(), project.configPath);
  const file = relative === "" || relative.startsWith("..") ? project.configPath : relative;
  return project.environment === undefined ? `${file} (top level)` : `${file} [env.${project.environment}]`;
}

/** Where the configuration came from: file, environment, secret names, bindings. */
export function projectLines(project: WorkerProject, loaded: LoadedConfig): string[] {
  const secrets =
    project.secrets.length === 0
      ? "none named (.dev.vars, [secrets] required or --secret)"
      : project.secrets.map((secret) => `${secret.name} (${secret.from})`).join(", ");
  const bindings =
    project.bindings.length === 0
      ? "none"
      : project.bindings
          .map((binding) => `${binding.name} (${KIND_NAMES[binding.kind] || binding.declaredAs})`)
          .join(", ");
  return [
    `${configName(project)}${loaded.hono ? ", a Worker using portcullis/hono" : ""}`,
    `  vars: ${Object.keys(project.vars).length}`,
    `  secrets, by name only (each checked with a stand-in value): ${secrets}`,
    `  bindings: ${bindings}`,
  ];
}

/**
 * Prints what the Worker would log at start: each warning, then the refusal if any.
 * Returns EXIT.failed when the Worker would refuse to start, else undefined.
 */
export function reportProblems(loaded: LoadedConfig, output: CliOutput): number | undefined {
  for (const note of loaded.notes) output.out(`note: ${note}`);
  for (const warning of loaded.warnings) output.err(`warning: ${warning}`);
  if (loaded.error === undefined) return undefined;
  output.err(`error: ${loaded.error.detail ?? loaded.error.message}`);
  if (loaded.hint !== undefined) output.err(`hint: ${loaded.hint}`);
  output.err(
    `The Worker would not start: it answers every request 503 and logs config_invalid naming ${loaded.error.setting}.`,
  );
  return EXIT.failed;
}
