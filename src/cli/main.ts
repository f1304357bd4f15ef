/**
 * The `portcullis` command: check a Worker's configuration, explain what it does with a
 * request, and run a file of route cases, all with the Worker's own code
 * (docs/configuration.md, "Checking your configuration"). The package's bin
 * (scripts/portcullis.mjs) runs `main`; nothing in src/ imports this folder.
 *
 *   npx portcullis check --env production
 *   npx portcullis explain GET /api/admin/stats --claims '{"scope": "read"}'
 *   npx portcullis test-routes routes.test.json
 */
import { parseArgs } from "node:util";
import { checkCommand } from "./check-command";
import { explainCommand } from "./explain-command";
import type { ConfigOptions } from "./load-config";
import { CliError, type CliOutput, EXIT } from "./output";
import { testRoutesCommand } from "./test-routes-command";

export const USAGE = `portcullis: check, explain and test a Portcullis Worker's configuration with the
Worker's own code, before it is deployed.

Usage:
  portcullis check [options]
  portcullis explain METHOD URL [--claims JSON | --token JWT] [--header "Name: value" ...] [--cf JSON] [options]
  portcullis test-routes FILE [options]

  check        makes every check the Worker makes at start (settings, bindings, route rules);
               prints the route table in order and where rules overlap
  explain      what the gateway does with one request: its canonical path, each rule tried
               for each reading and why, the deciding rule, and the answer the client gets
  test-routes  runs a JSON file of cases: [{"name": "…", "request": "GET /api/admin/stats",
               "identity": {"scope": "read"}, "expect": 403}]; expect is a status the
               gateway answers (200: forwarded) or "public", "allowed", "refused", "endpoint"

Options:
  --config FILE      the wrangler configuration (default: wrangler.json, wrangler.jsonc or
                     wrangler.toml, found as wrangler finds it)
  --env NAME         the environment ([env.NAME]); default the top level
  --secret NAME      a secret set for the environment (wrangler secret put); repeatable. Also
                     read: the names in .dev.vars.NAME (else .dev.vars) next to the
                     configuration, and [secrets] required. Values are never read: each
                     secret is checked with a stand-in value
  --hono             the Worker runs Portcullis as portcullis/hono middleware (found without
                     the flag when its main module imports portcullis/hono)
  --claims JSON      explain for a valid token with these claims, e.g.
                     '{"scope": "read write", "roles": ["clerk"], "sub": "user-1"}'
  --token JWT        explain for this token: decoded, NOT verified
  --header "N: v"    a request header (a method override, "Sec-Fetch-Mode: navigate",
                     "CF-Connecting-IP: 203.0.113.7" for ip conditions); repeatable
  --cf JSON          request.cf for country, asn and client_certificate conditions, e.g.
                     '{"country": "DE", "asn": 13335}'; without it, none (they do not hold)
  -h, --help         this text

Exit status: 0 all is well; 1 the Worker would refuse the configuration, or a case failed;
2 the command could not run (usage, a file it cannot read, wrangler not installed).`;

const CONFIG_OPTIONS = {
  config: { type: "string" },
  env: { type: "string" },
  secret: { type: "string", multiple: true },
  hono: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const EXPLAIN_OPTIONS = {
  ...CONFIG_OPTIONS,
  claims: { type: "string" },
  token: { type: "string" },
  header: { type: "string", multiple: true },
  cf: { type: "string" },
} as const;

function parse<Options extends typeof CONFIG_OPTIONS | typeof EXPLAIN_OPTIONS>(args: string[], options: Options) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new CliError("usage", (error as Error).message, { cause: error });
  }
}

function configOptions(values: { config?: string; env?: string; secret?: string[]; hono?: boolean }): ConfigOptions {
  return {
    config: values.config,
    environment: values.env,
    secrets: values.secret ?? [],
    ...(values.hono ? { hono: true } : {}),
  };
}

function positionals(positional: readonly string[], names: readonly string[], command: string): string[] {
  if (positional.length !== names.length) {
    throw new CliError("usage", `${command} takes ${names.join(" ") || "no arguments"}`);
  }
  return [...positional];
}

async function run(argv: readonly string[], output: CliOutput): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "check": {
      const { values, positionals: given } = parse(rest, CONFIG_OPTIONS);
      if (values.help) break;
      positionals(given, [], "check");
      return checkCommand(configOptions(values), output);
    }
    case "explain": {
      const { values, positionals: given } = parse(rest, EXPLAIN_OPTIONS);
      if (values.help) break;
      const [method = "", target = ""] = positionals(given, ["METHOD", "URL"], "explain");
      return explainCommand(
        {
          ...configOptions(values),
          method,
          target,
          claims: values.claims,
          token: values.token,
          headers: values.header,
          cf: values.cf,
        },
        output,
      );
    }
    case "test-routes": {
      const { values, positionals: given } = parse(rest, CONFIG_OPTIONS);
      if (values.help) break;
      const [file = ""] = positionals(given, ["FILE"], "test-routes");
      return testRoutesCommand({ ...configOptions(values), file }, output);
    }
    case undefined:
    case "help":
    case "-h":
    case "--help":
      break;
    default:
      throw new CliError("usage", `no command "${command}"`);
  }
  output.out(USAGE);
  return EXIT.ok;
}

const PROCESS_OUTPUT: CliOutput = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** Runs the command `argv` names; resolves to its exit status. */
export async function main(argv: readonly string[], output: CliOutput = PROCESS_OUTPUT): Promise<number> {
  try {
    return await run(argv, output);
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    output.err(`portcullis: ${error.message}`);
    if (error.code === "usage") output.err('Run "portcullis --help" for the usage.');
    return EXIT.unusable;
  }
}
