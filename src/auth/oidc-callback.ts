/**
 * GET /auth/oidc/callback and /auth/login/<provider>/callback — finish a login at that
 * provider: the
 * transaction from its cookie, the state used once, the code exchanged (oauth4webapi, with
 * the verifier), the ID token checked including its signature, then a session started in
 * its Durable Object exactly as the credential-check login does, with the provider's
 * tokens sealed inside. The browser gets our small cookies and goes on to `return_to`: a
 * 303, or with SameSite=Strict cookies a page of ours that continues there (below).
 * A refusal is a 4xx, a provider that cannot be reached a 503 (an error page for a
 * navigation); neither starts a session. Each provider has its own callback path, and a
 * transaction begun for one is refused at another's (mix-up defence, RFC 9700 §4.4).
 * GitHub (no ID token) goes through github/github-login.ts instead of the ID token's checks.
 */

import type { OidcConfig } from "../config/config";
import { OIDC_SETTINGS_PROVIDER_ID } from "../config/parse-oidc-config";
import { htmlPage } from "../errors/error-page";
import { GatewayError } from "../errors/gateway-error";
import type { RequestContext } from "../gateway/request-context";
import { completeGitHubLogin } from "../github/github-login";
import { landedCookie } from "../http/cookies";
import { enforceRateLimit, ipKey } from "../http/rate-limit";
import { sessionCookies } from "../http/token-response";
import { log } from "../log/logger";
import { mapSubject } from "../oidc/claim-mapping";
import { completeLogin } from "../oidc/code-exchange";
import { providerFor } from "../oidc/provider";
import { describeClient } from "../sessions/device";
import { oidcSettingsProvider, providerOfPath } from "./login-provider-of";
import { openTransaction, TRANSACTION_TTL_SECONDS } from "./oidc-transaction";

/** GET /auth/oidc/callback: the OIDC_* settings' provider's. */
export function handleOidcCallback(context: RequestContext, request: Request): Promise<Response> {
  return finishLogin(context, request, oidcSettingsProvider(context));
}

/** GET /auth/login/<provider>/callback. */
export function handleProviderCallback(context: RequestContext, request: Request): Promise<Response> {
  return finishLogin(context, request, providerOfPath(context, "callback"));
}

async function finishLogin(context: RequestContext, request: Request, oidc: OidcConfig): Promise<Response> {
  await enforceRateLimit(context, "LOGIN_IP_LIMIT", ipKey(context));
  const url = new URL(request.url);
  const now = context.now();
  const opened = await openTransaction(oidc, context.incoming.cookie, url.searchParams.get("state"), now);
  if (opened === undefined) {
    throw new GatewayError("login_failed", {
      detail: "no login transaction for this state (missing, expired or forged)",
    });
  }
  const { transaction } = opened;
  if ((transaction.provider ?? OIDC_SETTINGS_PROVIDER_ID) !== oidc.id) {
    // Sealed by us for another provider: its code and state are that provider's, not this one's.
    throw new GatewayError("login_failed", { detail: "login transaction of another provider" });
  }
  // A callback URL is good once: a replayed one never reaches the provider.
  const until = transaction.createdAt + TRANSACTION_TTL_SECONDS * 1000 + 60_000;
  if (!(await context.sessions.claimOnce("state", oidc.issuer, transaction.state, until))) {
    throw new GatewayError("login_failed", { detail: "login callback replayed" });
  }

  const provider = await providerFor(oidc, now);
  const { tokens, claims } =
    oidc.kind === "github"
      ? await completeGitHubLogin(provider, url, transaction, now)
      : await completeLogin(provider, url, transaction, now);
  const subject = mapSubject(oidc, claims);
  if (subject === undefined) throw new GatewayError("login_failed", { detail: "provider sub is not usable" });

  const granted = await context.sessions.start(subject, describeClient(request), { idp: tokens });
  log.info("login", {
    requestId: context.requestId,
    sub: subject.sub,
    sid: granted.session.sid,
    method: "oidc",
    provider: oidc.id,
  });
  const headers = new Headers({
    "cache-control": "no-store",
    // The callback URL carries the code: never hand it on as a Referer.
    "referrer-policy": "no-referrer",
  });
  headers.append("set-cookie", opened.clearCookie);
  for (const cookie of sessionCookies(context.config, granted, context.config.accessCookie)) {
    headers.append("set-cookie", cookie);
  }
  const stepUp = transaction.maxAge !== undefined || transaction.acrValues !== undefined;
  headers.append("set-cookie", landedCookie(true, stepUp));
  if (context.config.cookieSameSite !== "Strict") {
    headers.set("location", transaction.returnTo);
    return new Response(null, { status: 303, headers });
  }
  // A SameSite=Strict cookie does not ride a navigation that began at another site, and a
  // redirect from here would still be part of the one the provider began: the browser would
  // arrive at return_to without the session it was just given, and be sent to the login
  // again. A page of our own that goes on to return_to starts a new, same-site navigation.
  return htmlPage({
    status: 200,
    title: "Signed in",
    paragraphs: ["You are signed in. Continuing…"],
    continueTo: transaction.returnTo,
    headers,
  });
}
