/**
 * `portcullis check`: every check the Worker makes at start, made before it is deployed
 * (load-config.ts), then the effective route table and where rules overlap. Exit 1 with
 * the Worker's own `config_invalid` message when it would refuse to start; near misses and
 * other start-up warnings are printed and do not fail the check.
 */
import type { GatewayConfig } from "../config/config";
import { projectLines, reportProblems } from "./config-report";
import { type ConfigOptions, openConfig } from "./load-config";
import { type CliOutput, EXIT } from "./output";
import { overlapLines, routeTable } from "./route-table";

function upstreamOf(config: GatewayConfig): string {
  switch (config.upstream.kind) {
    case "url":
      return `${config.upstream.origin}${config.upstream.basePath}`;
    case "binding":
      return "the UPSTREAM service binding";
    case "none":
      return "none (your app answers)";
  }
}

/** A few lines on what the configuration does besides routes. */
function settingsLines(config: GatewayConfig): string[] {
  const login = [
    ...(config.credentialCheckSecret !== undefined && config.passwordLogin !== false
      ? ["password (credential check)"]
      : []),
    ...config.loginProviders.map(
      (provider) =>
        `${provider.kind === "github" ? "GitHub" : "OIDC"} "${provider.id}" at ${provider.issuer}${provider.loginRedirect && config.loginProviders.length === 1 ? " (browser navigations are sent to it)" : ""}`,
    ),
    ...(config.loginProviders.length > 1 && config.oidc?.loginRedirect
      ? ["browser navigations are sent to the chooser at /auth/login"]
      : []),
  ];
  return [
    `  mode: ${config.mode}; tokens: issuer ${config.issuer}, audience ${config.audience}, ${config.accessTokenTtl} s`,
    `  upstream: ${upstreamOf(config)}; a POST is judged ${config.postMayOverride ? "as every method a rule names too (UPSTREAM_METHOD_OVERRIDE = body)" : "as a POST"}`,
    `  login: ${login.length > 0 ? login.join("; ") : "none here (tokens are only verified)"}`,
  ];
}

export async function checkCommand(options: ConfigOptions, output: CliOutput): Promise<number> {
  const { project, loaded } = await openConfig(options);
  for (const line of projectLines(project, loaded)) output.out(line);
  const failed = reportProblems(loaded, output);
  if (failed !== undefined || loaded.config === undefined) return failed ?? EXIT.failed;
  const { config } = loaded;
  for (const line of settingsLines(config)) output.out(line);
  output.out("");
  output.out("Route rules, in order. Each reading of a path (as written, in lower case, without trailing");
  output.out("slashes) is decided by the first rule that matches it; the strictest reading applies.");
  for (const line of routeTable(config.routes)) output.out(`  ${line}`);
  const overlaps = overlapLines(config.routes);
  if (overlaps.length > 0) {
    output.out("");
    output.out("Overlaps (an earlier rule decides part of what a later one names):");
    for (const line of overlaps) output.out(`  ${line}`);
  }
  output.out("");
  output.out("OK: the configuration passes every check the Worker makes at start.");
  return EXIT.ok;
}
