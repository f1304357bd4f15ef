/**
 * `portcullis test-routes FILE`: runs a file of cases (route-cases.ts) against the user's
 * configuration, for their CI, as `opa test` runs a policy's tests. Each case is judged as
 * `explain` judges a request; a case whose answer does not meet its expectation is printed
 * with the whole explanation. Exit 1 when any case fails (or the Worker would not start).
 */
import { readFileSync } from "node:fs";
import { answerFor } from "../gateway/request-answer";
import { configName, reportProblems } from "./config-report";
import { answerLines, answerSummary, explanationLines } from "./explain-text";
import { identityFromClaims, NO_TOKEN } from "./identity";
import { judgeRequest } from "./judge-request";
import { type ConfigOptions, openConfig } from "./load-config";
import { CliError, type CliOutput, EXIT } from "./output";
import { meets, parseRouteCases } from "./route-cases";

export interface TestRoutesOptions extends ConfigOptions {
  readonly file: string;
  readonly now?: () => number;
}

function readCases(file: string): ReturnType<typeof parseRouteCases> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new CliError("input", `cannot read ${file}`, { cause: error });
  }
  try {
    return parseRouteCases(text);
  } catch (error) {
    if (error instanceof CliError) throw new CliError(error.code, `${file}: ${error.message}`, { cause: error });
    throw error;
  }
}

export async function testRoutesCommand(options: TestRoutesOptions, output: CliOutput): Promise<number> {
  const cases = readCases(options.file);
  const { project, loaded } = await openConfig(options);
  output.out(`${options.file} against ${configName(project)}: ${cases.length} cases`);
  const failedToStart = reportProblems(loaded, output);
  if (failedToStart !== undefined || loaded.config === undefined) return failedToStart ?? EXIT.failed;
  const { config } = loaded;
  const now = (options.now ?? Date.now)();
  let failures = 0;
  for (const routeCase of cases) {
    const identity = routeCase.identity === undefined ? NO_TOKEN : identityFromClaims(routeCase.identity, config, now);
    let details: ReturnType<typeof judgeRequest>;
    try {
      details = judgeRequest(config, routeCase);
    } catch (error) {
      if (error instanceof CliError) throw new CliError("input", `case "${routeCase.name}": ${error.message}`);
      throw error;
    }
    const answer = answerFor(details.judged, identity.identity, details.answerOptions);
    const got = await answerSummary(answer, config);
    const request = `${routeCase.method.toUpperCase()} ${routeCase.target}`;
    if (meets(answer, routeCase.expect)) {
      output.out(`  ok    ${routeCase.name}: ${request} → ${got}`);
      continue;
    }
    failures++;
    output.out(`  FAIL  ${routeCase.name}: ${request} → ${got}, expected ${JSON.stringify(routeCase.expect)}`);
    const explanation = [
      ...explanationLines(details, config),
      `identity: ${identity.description}`,
      ...(await answerLines(answer, details, config)),
    ];
    for (const line of explanation) output.out(`        ${line}`);
  }
  output.out(`${cases.length} cases: ${cases.length - failures} passed, ${failures} failed`);
  return failures === 0 ? EXIT.ok : EXIT.failed;
}
