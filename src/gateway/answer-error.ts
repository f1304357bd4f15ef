/**
 * Turns anything thrown while serving a request into its answer, through the one
 * problem+json / RFC 6750 mapping (errors/problem.ts), and logs it. Shared by the
 * standalone Worker's envelope (gateway/envelope.ts), its Hono app for the auth endpoints,
 * and the portcullis/hono middleware and endpoints.
 *
 * With OpenID Connect login configured, a browser navigating without a valid token is
 * sent to the login instead (login-redirect.ts), and a failed navigation under
 * /auth/oidc/ or /auth/login (the chooser, a provider's login and callback) gets an HTML error page.
 */

import { ConfigError } from "../config/parse-config";
import { DPOP_ALGORITHMS } from "../dpop/dpop-proof";
import { errorPage } from "../errors/error-page";
import { GatewayError } from "../errors/gateway-error";
import { problemResponse, statusOf } from "../errors/problem";
import { appendClearedCookies } from "../http/token-response";
import { type LogFields, log } from "../log/logger";
import { usesDpopScheme } from "../tokens/read-credentials";
import { isNavigation, loginRedirectFor } from "./login-redirect";
import type { RequestContext } from "./request-context";
import { answerNonce } from "./sender-constraint";

const DPOP_ALGS = DPOP_ALGORITHMS.join(" ");

/** A 5xx answer, by cause; a failed or slow upstream is also counted as an upstream error. */
function recordServerError(context: RequestContext | undefined, code: string): void {
  if (code === "upstream_unreachable" || code === "upstream_timeout") context?.metrics.record("upstream_error", code);
  context?.metrics.record("server_error", code);
}

/** A browser on another site tried to act with the user's cookies: a security event, counted by kind. */
function crossSiteRefused(context: RequestContext | undefined, fields: LogFields & { detail?: string }): void {
  log.security("cross_site_refused", fields);
  context?.metrics.record("cross_site_refused", fields.detail?.startsWith("websocket") ? "websocket" : "state_change");
}

export async function answerError(
  error: unknown,
  context: RequestContext | undefined,
  request: Request,
): Promise<Response> {
  const requestId = context?.requestId ?? crypto.randomUUID();
  const realm = context?.config.realm ?? "portcullis";
  if (error instanceof GatewayError) {
    const fields = { requestId, code: error.code, status: statusOf(error.code), detail: error.detail };
    if (error instanceof ConfigError) log.error("config_invalid", { ...fields, setting: error.setting });
    else if (statusOf(error.code) >= 500) log.error("dependency_failed", fields);
    else if (error.code === "origin_forbidden") crossSiteRefused(context, fields);
    else log.info("request_refused", fields);
    if (statusOf(error.code) >= 500) recordServerError(context, error.code);
    const redirect = context ? loginRedirectFor(context, request, error) : undefined;
    if (redirect !== undefined) return redirect;
    const headers = new Headers();
    if (error.code === "method_not_allowed") headers.set("allow", error.allow ?? "POST");
    if (error.clearSession && context) appendClearedCookies(headers, context.config);
    const path = context?.path ?? new URL(request.url).pathname;
    if (isNavigation(request) && (path.startsWith("/auth/oidc/") || path.startsWith("/auth/login"))) {
      return errorPage(error, { realm, requestId }, headers);
    }
    const dpopScheme = usesDpopScheme(context?.incoming.authorization ?? null);
    // DPOP_NONCE: a refusal of a request with a proof names the nonce to use next, too.
    if (context !== undefined && error.dpopNonce === undefined) await answerNonce(context, headers);
    return problemResponse(error, { realm, requestId, dpopAlgs: DPOP_ALGS, dpopScheme }, headers);
  }
  log.error("unexpected_error", { requestId, name: (error as Error)?.name, message: (error as Error)?.message });
  recordServerError(context, "internal_error");
  return problemResponse(new GatewayError("internal_error", { cause: error }), { realm, requestId });
}
