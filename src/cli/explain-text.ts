/**
 * A judged request in words (`portcullis explain`, and a failed `test-routes` case): the
 * canonical path and its readings, where the request stopped before the rules, each rule
 * tried for each reading and why it did or did not match, the deciding rules, what the
 * route requires, and the answer, with the status, error and challenge the Worker's one
 * mapping (errors/problem.ts) gives it.
 */
import { PATH_REFUSALS } from "../canonical/canonical-path";
import type { GatewayConfig } from "../config/config";
import { GatewayError } from "../errors/gateway-error";
import { problemResponse } from "../errors/problem";
import type { RequestAnswer } from "../gateway/request-answer";
import { OIDC_LOGIN_PATH } from "../oidc/endpoints";
import type { RouteExplanation } from "../policy/route-explain";
import type { JudgedRequestDetails } from "./judge-request";
import { requirementOf, ruleText } from "./route-table";

function readingsLines(explanation: RouteExplanation, config: GatewayConfig): string[] {
  const lines: string[] = [];
  for (const reading of explanation.readings) {
    const method = reading.method === "" ? "(a method no rule names)" : reading.method;
    lines.push(`  ${method} ${reading.path} (${reading.how}):`);
    for (const tried of reading.tried) {
      lines.push(`    ${tried.matched ? "yes" : "no "} ${ruleText(config.routes, tried.rule)}: ${tried.why}`);
    }
    lines.push(`    → ${ruleText(config.routes, reading.deciding)} decides`);
  }
  return lines;
}

/** The deciding rules, once each, with the readings they decided. */
function decidingLines(explanation: RouteExplanation, config: GatewayConfig): string[] {
  const byRule = new Map<number | undefined, string[]>();
  for (const reading of explanation.readings) {
    const readings = byRule.get(reading.deciding) ?? [];
    readings.push(`${reading.method || "(other)"} ${reading.path}`);
    byRule.set(reading.deciding, readings);
  }
  return [...byRule].map(([rule, readings]) => `  ${ruleText(config.routes, rule)} for ${readings.join(", ")}`);
}

/** Everything before the answer: the path, where the request stopped, the rules tried. */
export function explanationLines(details: JudgedRequestDetails, config: GatewayConfig): string[] {
  const { canonical, judged, method, url } = details;
  const lines = [`request: ${method} ${url.pathname}${url.search}`];
  if (canonical.ok) {
    lines.push(`canonical path: ${canonical.path} (what the upstream would receive)`);
    lines.push(
      `decoded readings (each matched as written, in lower case, without trailing slashes): ${canonical.readings.join(", ")}`,
    );
  }
  switch (judged.stage) {
    case "not_servable":
      lines.push(`host: ${judged.detail}`);
      break;
    case "path_refused":
      lines.push(`canonical path: none (${judged.refusal}): ${PATH_REFUSALS[judged.refusal]}`);
      break;
    case "method_override":
      lines.push(`method override: names ${judged.named}, not ${method}`);
      break;
    case "endpoint_lookalike":
      lines.push("another spelling (letter case, trailing slash) of one of the gateway's own endpoints");
      break;
    case "own_endpoint":
      lines.push(`one of the gateway's own endpoints: ${judged.endpoint}; no route rule applies`);
      break;
    case "credential_check":
      lines.push(`a reading of the credential check path (${config.credentialCheckPath}), which is never proxied`);
      break;
    case "routed": {
      const { explanation } = judged;
      lines.push("method override: none that names another method");
      lines.push("rules tried, for each method and reading (the first rule that matches a reading decides it):");
      lines.push(...readingsLines(explanation, config));
      lines.push("deciding rules:");
      lines.push(...decidingLines(explanation, config));
      const strictest = explanation.readings.length > 1 ? " (the strictest of the readings)" : "";
      lines.push(`the route requires: ${requirementOf(explanation.decision)}${strictest}`);
      break;
    }
  }
  return lines;
}

/** The answer in a few words: "403 insufficient_scope", "forwarded (public)", "302 to the login". */
export async function answerSummary(answer: RequestAnswer, config: GatewayConfig): Promise<string> {
  if (answer.outcome === "forwarded") {
    if (answer.public) return "forwarded (public)";
    const assumes = answer.assumes ?? [];
    if (assumes.length === 0) return "forwarded";
    const services = assumes.map((service) => `service ${service}`).join(" and ");
    return `forwarded, if ${services} ${assumes.length === 1 ? "allows" : "allow"} (not asked)`;
  }
  if (answer.outcome === "endpoint") return "the gateway's own endpoint";
  if (answer.loginRedirect) return "302 to the login";
  if (answer.code === undefined) return `${answer.status} not found`;
  const response = problemResponse(new GatewayError(answer.code), { realm: config.realm, requestId: "explain" });
  const error = ((await response.json()) as { error?: string }).error;
  return `${answer.status} ${error ?? answer.code}`;
}

/** The answer line and what the client sees with it (challenge, Allow, Location). */
export async function answerLines(
  answer: RequestAnswer,
  details: JudgedRequestDetails,
  config: GatewayConfig,
): Promise<string[]> {
  const summary = await answerSummary(answer, config);
  if (answer.outcome === "forwarded") {
    return [`answer: ${summary}: the client gets the upstream's answer (${answer.why})`];
  }
  if (answer.outcome === "endpoint") return [`answer: ${answer.why}`];
  const lines = [`answer: ${summary}: ${answer.why}`];
  if (answer.loginRedirect) {
    const returnTo = encodeURIComponent(`${details.canonical.ok ? details.canonical.path : ""}${details.url.search}`);
    lines.push(`  Location: ${details.answerOptions.oidc?.loginPath ?? OIDC_LOGIN_PATH}?return_to=${returnTo}`);
  } else if (answer.allow !== undefined) {
    lines.push(`  Allow: ${answer.allow}`);
  } else if (answer.code !== undefined) {
    const error = new GatewayError(answer.code, { requiredScopes: answer.requiredScopes ?? [] });
    const challenge = problemResponse(error, { realm: config.realm, requestId: "explain" }).headers.get(
      "www-authenticate",
    );
    if (challenge !== null) lines.push(`  WWW-Authenticate: ${challenge}`);
  }
  return lines;
}
