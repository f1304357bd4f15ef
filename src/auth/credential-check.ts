/**
 * Asks the upstream who a user is. The gateway stores no passwords: it POSTs the
 * credentials to CREDENTIAL_CHECK_PATH on the upstream, authenticated with the shared
 * CREDENTIAL_CHECK_SECRET in `X-Portcullis-Credential-Secret`, and reads
 * `{ "sub": "...", "scope": "a b" | ["a","b"], "roles": ["..."] }` from a 200, with
 * optional `email`, `email_verified`, `acr` and `amr` (["pwd", "otp"]) carried into the
 * session's tokens for route rules.
 * 401/403/404 mean "no such user or wrong password"; anything else means the check is down.
 * A 401 may name the account whose password was wrong (`{"sub": "..."}`): login then counts
 * the attempt against that account's limit, whichever of its names was used.
 *
 * Inside your own Hono app (portcullis/hono) the check can be a function of yours instead;
 * its answer passes the same rules.
 */
import { GatewayError } from "../errors/gateway-error";
import type { Credentials, SubjectAnswer } from "../gateway/credential-check-contract";
import type { RequestContext } from "../gateway/request-context";
import { sendUpstream, upstreamUrl } from "../proxy/forward";
import { isIdentifier, isRole, isScopeToken } from "../tokens/access-token-claims";
import { type IdentityClaims, identityClaimsOf } from "../tokens/identity-claims";

export const CREDENTIAL_SECRET_HEADER = "x-portcullis-credential-secret";
const MAX_ANSWER_BYTES = 16 * 1024;
const MAX_NAMES = 64;

/** A refusal by the credential check; `sub` when it named the account (a known user, a wrong password). */
export class CredentialsRefused extends GatewayError {
  readonly sub: string | undefined;

  constructor(sub: string | undefined) {
    super("credentials_invalid");
    this.sub = sub;
  }
}

export interface CheckedSubject {
  readonly sub: string;
  readonly scope: readonly string[];
  readonly roles: readonly string[];
  readonly identity: IdentityClaims;
}

type Answer = { sub?: unknown; scope?: unknown; roles?: unknown } & Record<string, unknown>;

/** A list from a space-separated string or an array, every item passing `valid`. */
function names(value: unknown, valid: (item: unknown) => boolean): string[] | undefined {
  if (value === undefined) return [];
  const list = typeof value === "string" ? value.split(" ").filter((item) => item !== "") : value;
  if (!Array.isArray(list) || list.length > MAX_NAMES || !list.every(valid)) return undefined;
  return list as string[];
}

/** The same rules the verifier applies, so login never mints a token that is refused on use. */
function checkedSubject(answer: Answer | undefined): CheckedSubject {
  const scope = names(answer?.scope, isScopeToken);
  const roles = names(answer?.roles, isRole);
  if (!isIdentifier(answer?.sub) || !scope || !roles) {
    throw new GatewayError("credential_check_unavailable", { detail: "credential check answer has the wrong shape" });
  }
  return { sub: answer.sub, scope, roles, identity: identityClaimsOf(answer) };
}

/** The `sub` a refusal names, if its small JSON body has a valid one; never fails. */
async function namedSubject(response: Response): Promise<string | undefined> {
  if (!(response.headers.get("content-type") ?? "").includes("json")) {
    await response.body?.cancel();
    return undefined;
  }
  try {
    const text = await response.text();
    if (text.length > MAX_ANSWER_BYTES) return undefined;
    const sub = (JSON.parse(text) as { sub?: unknown } | null)?.sub;
    return isIdentifier(sub) ? sub : undefined;
  } catch {
    return undefined;
  }
}

export async function checkCredentials(
  context: RequestContext,
  incoming: Request,
  credentials: Credentials,
): Promise<CheckedSubject> {
  if (context.credentialCheck !== undefined) {
    let answer: SubjectAnswer | undefined;
    try {
      answer = await context.credentialCheck(credentials);
    } catch (error) {
      // Its message could hold what it was given; the log gets the error's name only.
      throw new GatewayError("credential_check_unavailable", {
        detail: `credential check threw ${(error as Error)?.name ?? typeof error}`,
        cause: error,
      });
    }
    if (answer === undefined || answer === null) throw new CredentialsRefused(undefined);
    return checkedSubject(answer as unknown as Answer);
  }
  const secret = context.config.credentialCheckSecret;
  if (secret === undefined)
    throw new GatewayError("misconfigured", { detail: "CREDENTIAL_CHECK_SECRET: is required for login" });
  const url = upstreamUrl(context.upstream, new URL(incoming.url), context.config.credentialCheckPath);
  const init: RequestInit = {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json", [CREDENTIAL_SECRET_HEADER]: secret },
    body: JSON.stringify(credentials),
  };
  let response: Response;
  try {
    response = await sendUpstream(context.upstream, url, init);
  } catch (error) {
    throw new GatewayError("credential_check_unavailable", { detail: "credential check unreachable", cause: error });
  }
  if (response.status === 401 || response.status === 403 || response.status === 404) {
    throw new CredentialsRefused(response.status === 401 ? await namedSubject(response) : undefined);
  }
  if (response.status !== 200) {
    await response.body?.cancel();
    throw new GatewayError("credential_check_unavailable", { detail: `credential check answered ${response.status}` });
  }
  let answer: Answer;
  try {
    const text = await response.text();
    if (text.length > MAX_ANSWER_BYTES) throw new Error("too large");
    answer = JSON.parse(text);
  } catch (error) {
    throw new GatewayError("credential_check_unavailable", {
      detail: "credential check answer is not JSON",
      cause: error,
    });
  }
  return checkedSubject(answer);
}
