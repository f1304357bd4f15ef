/**
 * One request taken through the Worker's steps, in the Worker's order, with the Worker's
 * own functions, up to the route decision (`portcullis explain`, `test-routes`):
 *
 *   the host (a development config serves only this machine)   config/development-guard.ts
 *   the canonical path, or a 400                                canonical/canonical-path.ts
 *   a method override naming another method: 400                canonical/method-override.ts
 *   another spelling of a gateway endpoint: 404                 auth/routes.ts
 *   the gateway's own endpoints (405 for another method)        auth/routes.ts, app.ts
 *   the credential check path, under any reading: 404           gateway/route-of.ts
 *   each rule tried for each reading                            policy/route-explain.ts
 *
 * gateway/request-answer.ts then turns where it stopped, and who sent it, into the answer.
 */
import { isEndpointLookalike, ownEndpointOf } from "../auth/routes";
import { type CanonicalPath, canonicalPath } from "../canonical/canonical-path";
import { conflictingOverride } from "../canonical/method-override";
import type { GatewayConfig } from "../config/config";
import { assertServable } from "../config/development-guard";
import { ConfigError } from "../config/parse-config";
import { isNavigation } from "../gateway/login-redirect";
import type { AnswerOptions, JudgedRequest } from "../gateway/request-answer";
import { readingsWithin } from "../gateway/route-of";
import { loginEntryPath } from "../oidc/endpoints";
import type { RequestCf } from "../policy/route-condition";
import { explainRoute } from "../policy/route-explain";
import { readIncomingHeaders } from "../proxy/upstream-request";
import { CliError } from "./output";

export interface RequestToJudge {
  readonly method: string;
  /** A path as a client sends it ("/api/me?x=1") or an absolute http(s) URL. */
  readonly target: string;
  /** Request headers, as "Name: value". */
  readonly headers?: readonly string[];
  /** `request.cf` for route conditions (country, asn, tlsClientAuth); undefined: none. */
  readonly cf?: RequestCf | undefined;
}

export interface JudgedRequestDetails {
  readonly method: string;
  readonly url: URL;
  readonly canonical: CanonicalPath;
  readonly judged: JudgedRequest;
  readonly answerOptions: AnswerOptions;
}

/** The URL the runtime would parse from a request line: the target as written, after an origin. */
function urlOf(target: string): URL {
  try {
    if (/^https?:\/\//i.test(target)) return new URL(target);
    // Concatenated, not resolved: "//admin" is a path here, as in a request line, not a host.
    if (target.startsWith("/")) return new URL(`http://localhost${target}`);
  } catch (error) {
    throw new CliError("usage", `"${target}" is not a URL`, { cause: error });
  }
  throw new CliError("usage", `"${target}" must be a path ("/api/me") or an absolute http(s) URL`);
}

function headersOf(lines: readonly string[]): Headers {
  const headers = new Headers();
  for (const line of lines) {
    const colon = line.indexOf(":");
    try {
      if (colon < 1) throw new Error("no name");
      headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    } catch (error) {
      throw new CliError("usage", `a header must be "Name: value" (got "${line}")`, { cause: error });
    }
  }
  return headers;
}

/** The method as the Worker reads it: upper case, and one the HTTP grammar allows. */
function methodOf(raw: string): string {
  const method = raw.toUpperCase();
  if (!/^[!#$%&'*+.^_`|~0-9A-Z-]+$/.test(method)) throw new CliError("usage", `"${raw}" is not an HTTP method`);
  return method;
}

function navigation(method: string, url: URL, headers: Headers): boolean {
  if (method !== "GET" && method !== "HEAD") return false;
  return isNavigation(new Request(url, { method, headers }));
}

/** `request.cf` as the user gives it: an object (`{"country": "DE", "asn": 13335}`). */
export function cfFromJson(value: unknown, what: string): RequestCf {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new CliError("usage", `${what} must be a JSON object, e.g. {"country": "DE", "asn": 13335}`);
  }
  return value as RequestCf;
}

/** How far the request gets in the Worker configured by `config`, and why it stops there. */
export function judgeRequest(config: GatewayConfig, request: RequestToJudge): JudgedRequestDetails {
  const method = methodOf(request.method);
  const url = urlOf(request.target);
  const headers = headersOf(request.headers ?? []);
  const canonical = canonicalPath(url.pathname, config.paths);
  const path = canonical.ok ? canonical.path : url.pathname;
  const answerOptions: AnswerOptions = {
    oidc:
      config.oidc === undefined
        ? undefined
        : { loginRedirect: config.oidc.loginRedirect, loginPath: loginEntryPath(config.loginProviders) },
    navigation: navigation(method, url, headers),
    underAuth: path.startsWith("/auth/"),
    // As the Worker reads it (proxy/upstream-request.ts): the CF-Connecting-IP header alone.
    clientIp: readIncomingHeaders(headers).clientIp,
    cf: request.cf,
    clockToleranceSeconds: config.clockToleranceSeconds,
  };
  const details = (judged: JudgedRequest): JudgedRequestDetails => ({ method, url, canonical, judged, answerOptions });
  try {
    assertServable(config, url);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return details({ stage: "not_servable", detail: error.detail ?? error.message });
  }
  if (!canonical.ok) return details({ stage: "path_refused", refusal: canonical.refusal });
  const named = conflictingOverride(method, readIncomingHeaders(headers).methodOverrides, url.search);
  if (named !== undefined) return details({ stage: "method_override", named });
  if (isEndpointLookalike(canonical.path, canonical.readings)) return details({ stage: "endpoint_lookalike" });
  const endpoint = ownEndpointOf(method, canonical.path, { loginProviders: config.loginProviders.length > 0 });
  if (endpoint !== undefined) return details({ stage: "own_endpoint", ...endpoint });
  if (readingsWithin(canonical.readings, config.credentialCheckPath)) return details({ stage: "credential_check" });
  const explanation = explainRoute(config.routes, method, canonical.readings, {
    postMayOverride: config.postMayOverride,
  });
  return details({ stage: "routed", explanation });
}
