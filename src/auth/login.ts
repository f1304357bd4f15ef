/**
 * POST /auth/login — JSON or form `{ username, password }`.
 * Success: RFC 6749 token response + refresh cookie. Failure: 401 that does not say
 * whether the user exists. A login that brings a DPoP proof begins a session bound to the
 * proof's key (token_type "DPoP"); with DPOP_SESSIONS = "required", one without is refused. Attempts are limited per client address, per account name
 * (canonical/username.ts) and per subject, where the credential check names one (a 401
 * may carry `{"sub": …}`), on success and failure alike.
 */
import { canonicalUsername } from "../canonical/username";
import { GatewayError } from "../errors/gateway-error";
import type { RequestContext } from "../gateway/request-context";
import { answerNonce, sessionProof } from "../gateway/sender-constraint";
import { assertTrustedOrigin } from "../http/origin-check";
import { enforceRateLimit, ipKey } from "../http/rate-limit";
import { readFields } from "../http/read-body";
import { tokenResponse } from "../http/token-response";
import { log } from "../log/logger";
import { describeClient } from "../sessions/device";
import { CredentialsRefused, checkCredentials } from "./credential-check";

const MAX_USERNAME = 256;
const MAX_PASSWORD = 1024;

export async function handleLogin(context: RequestContext, request: Request): Promise<Response> {
  const { config } = context;
  const enabled =
    config.passwordLogin ?? (context.credentialCheck !== undefined || config.credentialCheckSecret !== undefined);
  // Off (PASSWORD_LOGIN = false, or an OIDC-only deployment): not an endpoint, not an error.
  if (!enabled) throw new GatewayError("not_found", { detail: "password login is off (PASSWORD_LOGIN)" });
  // Login CSRF: a browser on another site must not log the victim into the attacker's account.
  assertTrustedOrigin(context.config, request);
  // The proof first: a retry for the server's nonce is not another login attempt.
  const proof = await sessionProof(context, config.dpop.sessions === "required");
  await enforceRateLimit(context, "LOGIN_IP_LIMIT", ipKey(context));
  const fields = await readFields(request, ["json", "form"]);
  const { username, password } = fields;
  if (!username || !password || username.length > MAX_USERNAME || password.length > MAX_PASSWORD) {
    throw new GatewayError("request_invalid", { detail: "username and password are required strings of sane length" });
  }
  await enforceRateLimit(context, "LOGIN_ACCOUNT_LIMIT", `account:${canonicalUsername(username)}`);
  let subject: Awaited<ReturnType<typeof checkCredentials>>;
  try {
    subject = await checkCredentials(context, request, { username, password });
  } catch (error) {
    if (error instanceof CredentialsRefused) {
      log.security("login_failed", { requestId: context.requestId, ip: context.clientIp });
      // The account the check named: its other names (an e-mail, a user name) share its allowance.
      if (error.sub !== undefined) await enforceRateLimit(context, "LOGIN_ACCOUNT_LIMIT", `subject:${error.sub}`);
    }
    throw error;
  }
  // Counted on success as on failure, so that a 429 says nothing about the password.
  await enforceRateLimit(context, "LOGIN_ACCOUNT_LIMIT", `subject:${subject.sub}`);
  const granted = await context.sessions.start(subject, describeClient(request), { jkt: proof?.jkt });
  log.info("login", { requestId: context.requestId, sub: subject.sub, sid: granted.session.sid, dpop: !!proof });
  const response = tokenResponse(context.config, granted, {
    refreshInBody: false,
    setAccessCookie: context.config.accessCookie,
  });
  await answerNonce(context, response.headers);
  return response;
}
