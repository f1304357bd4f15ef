/**
 * `portcullis explain METHOD URL [--claims JSON | --token JWT] [--header "Name: value"] [--cf JSON]`:
 * what the gateway configured by the user's wrangler configuration does with one request,
 * step by step (judge-request.ts), and the answer the client would get for the identity
 * given (gateway/request-answer.ts). A configuration the Worker refuses is reported as
 * `check` reports it: every request would be answered 503.
 */
import { answerFor } from "../gateway/request-answer";
import { configName, reportProblems } from "./config-report";
import { answerLines, explanationLines } from "./explain-text";
import { type DescribedIdentity, identityFromClaimsText, identityFromToken, NO_TOKEN } from "./identity";
import { cfFromJson, judgeRequest } from "./judge-request";
import { type ConfigOptions, openConfig } from "./load-config";
import { CliError, type CliOutput, EXIT } from "./output";

export interface ExplainOptions extends ConfigOptions {
  readonly method: string;
  readonly target: string;
  readonly claims?: string | undefined;
  readonly token?: string | undefined;
  readonly headers?: readonly string[];
  /** `--cf JSON`: `request.cf` for route conditions. */
  readonly cf?: string | undefined;
  /** The clock, for the claims' `iat`/`exp` and a token's expiry. */
  readonly now?: () => number;
}

function cfFromText(text: string) {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new CliError("usage", "--cf must be JSON", { cause: error });
  }
  return cfFromJson(parsed, "--cf");
}

export async function explainCommand(options: ExplainOptions, output: CliOutput): Promise<number> {
  if (options.claims !== undefined && options.token !== undefined) {
    throw new CliError("usage", "give --claims or --token, not both");
  }
  const { project, loaded } = await openConfig(options);
  output.out(`configuration: ${configName(project)}${loaded.hono ? ", a Worker using portcullis/hono" : ""}`);
  const failed = reportProblems(loaded, output);
  if (failed !== undefined || loaded.config === undefined) {
    output.out("answer: 503 misconfigured: the Worker answers every request so until the configuration is fixed");
    return failed ?? EXIT.failed;
  }
  const { config } = loaded;
  const now = (options.now ?? Date.now)();
  let identity: DescribedIdentity = NO_TOKEN;
  if (options.claims !== undefined) identity = identityFromClaimsText(options.claims, config, now);
  if (options.token !== undefined) identity = identityFromToken(options.token, config, now);

  const details = judgeRequest(config, {
    method: options.method,
    target: options.target,
    headers: options.headers ?? [],
    cf: options.cf === undefined ? undefined : cfFromText(options.cf),
  });
  if (loaded.hono) {
    output.out("note: in a portcullis/hono app, your routes decide what portcullis() guards; below is what the");
    output.out("      standalone gateway would do with this configuration");
  }
  for (const line of explanationLines(details, config)) output.out(line);
  output.out(`identity: ${identity.description}`);
  const answer = answerFor(details.judged, identity.identity, details.answerOptions);
  for (const line of await answerLines(answer, details, config)) output.out(line);
  return EXIT.ok;
}
