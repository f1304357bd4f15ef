/**
 * Step-up for a client (docs/policy.md, "Step-up"): a route that needs a more recent or
 * stronger sign-in answers 401 `insufficient_user_authentication` with what the sign-in must
 * bring (RFC 9470: `max_age`, `acr_values`). The client passes such an answer through to the
 * caller (a refresh would not help: it keeps the sign-in); these helpers read it and build
 * the login that meets it.
 *
 * @example
 * const response = await client.fetch("/api/billing/invoices");
 * const stepUp = stepUpChallenge(response);
 * if (stepUp) location.assign(stepUpLoginUrl(gatewayOrigin, stepUp, location.pathname));
 */

/** What a new sign-in must bring: the challenge's `max_age` (seconds) and `acr_values`. */
export interface StepUpChallenge {
  readonly maxAge?: number;
  readonly acrValues?: readonly string[];
}

/** One auth-param of a challenge, quoted or not (RFC 7235 §2.1), unescaped. */
function authParam(header: string, name: string): string | undefined {
  const match = new RegExp(`(?:^|[\\s,])${name}\\s*=\\s*(?:"((?:[^"\\\\]|\\\\.)*)"|([^\\s,"]+))`, "i").exec(header);
  if (match === null) return undefined;
  return match[1] !== undefined ? match[1].replace(/\\(.)/g, "$1") : match[2];
}

/** The step-up a 401 asks for, or undefined when the answer is something else. */
export function stepUpChallenge(response: {
  status: number;
  headers: { get(name: string): string | null };
}): StepUpChallenge | undefined {
  const header = response.headers.get("www-authenticate") ?? "";
  if (response.status !== 401 || authParam(header, "error") !== "insufficient_user_authentication") return undefined;
  const maxAgeText = authParam(header, "max_age");
  const acrText = authParam(header, "acr_values");
  const maxAge = maxAgeText !== undefined && /^\d{1,9}$/.test(maxAgeText) ? Number(maxAgeText) : undefined;
  const acrValues = acrText?.split(" ").filter((value) => value !== "");
  return {
    ...(maxAge !== undefined ? { maxAge } : {}),
    ...(acrValues !== undefined && acrValues.length > 0 ? { acrValues } : {}),
  };
}

/**
 * The gateway's OIDC login that asks the provider for `stepUp` and comes back to
 * `returnTo` (a path on the gateway's origin): navigate the browser there.
 */
export function stepUpLoginUrl(gatewayOrigin: string, stepUp: StepUpChallenge, returnTo: string): string {
  const url = new URL("/auth/oidc/login", gatewayOrigin);
  url.searchParams.set("return_to", returnTo);
  if (stepUp.maxAge !== undefined) url.searchParams.set("max_age", String(stepUp.maxAge));
  if (stepUp.acrValues !== undefined) url.searchParams.set("acr_values", stepUp.acrValues.join(" "));
  return url.href;
}
