/**
 * Step-up (docs/policy.md, "Step-up"): a route rule can require that the user signed in
 * recently (`max_auth_age`, seconds), at an assurance level (`acr`, one of these) or by a
 * method (`amr`, one of these among the token's). A token that falls short is not refused
 * as lacking a grant: the same user, signing in again as asked, would pass. So it gets
 * RFC 9470's `insufficient_user_authentication` (an API call), or is sent through the OIDC
 * login with `max_age` / `acr_values` (a browser navigation).
 *
 * Parsed once per rule at config time (route-rules.ts); judged per request on the verified
 * token's payload.
 */
import { GatewayError, type StepUp } from "../errors/gateway-error";

export interface AuthenticationRequirement {
  /** Seconds since the user last authenticated, at most. */
  readonly maxAge?: number;
  /** The token's `acr` is one of these. */
  readonly acr?: readonly string[];
  /** The token's `amr` holds one of these. */
  readonly amr?: readonly string[];
  /** In words, for the log and `portcullis explain`: "max_auth_age 300, acr one of [mfa]". */
  readonly text: string;
}

/** The longest `max_auth_age` a rule may set: a year (longer is no requirement at all). */
export const MAX_AUTH_AGE_LIMIT = 31_536_000;
const VALUE = /^[\x21\x23-\x5b\x5d-\x7e]{1,256}$/;
/** The most values an `acr` / `amr` list (or a login's `acr_values`) may hold. */
export const MAX_REQUIREMENT_VALUES = 16;
const MAX_VALUES = MAX_REQUIREMENT_VALUES;

/** An `acr` or `amr` value as a rule or a login's `acr_values` may name it: visible ASCII, no spaces, quotes or backslashes. */
export function isRequirementValue(value: unknown): value is string {
  return typeof value === "string" && VALUE.test(value);
}

/** The rule keys, each with what it means (route-rules.ts's table reads these). */
export const AUTHENTICATION_KEYS = Object.freeze({
  max_auth_age:
    "seconds: the user signed in at most this long ago (the provider's `auth_time`, else the session's start); older is sent to sign in again (docs/policy.md, Step-up)",
  acr: "the token's `acr` (how strongly the user signed in) is one of these; asked of the OIDC provider as `acr_values`",
  amr: 'the token\'s `amr` (how the user signed in: "pwd", "otp", "mfa", "hwk"…) holds one of these',
});

/** The rule's requirement, or undefined when it sets none; throws the problem's text. */
export function parseAuthenticationRequirement(
  rule: Readonly<Record<string, unknown>>,
): AuthenticationRequirement | undefined {
  const { max_auth_age: maxAge, acr, amr } = rule;
  if (maxAge === undefined && acr === undefined && amr === undefined) return undefined;
  if (
    maxAge !== undefined &&
    !(Number.isInteger(maxAge) && (maxAge as number) >= 0 && (maxAge as number) <= MAX_AUTH_AGE_LIMIT)
  ) {
    throw new Error(`"max_auth_age" must be a whole number of seconds from 0 to ${MAX_AUTH_AGE_LIMIT}`);
  }
  const acrValues = values(acr, "acr");
  const amrValues = values(amr, "amr");
  const parts = [
    ...(maxAge !== undefined ? [`max_auth_age ${maxAge}`] : []),
    ...(acrValues !== undefined ? [`acr one of [${acrValues.join(" ")}]`] : []),
    ...(amrValues !== undefined ? [`amr holds one of [${amrValues.join(" ")}]`] : []),
  ];
  return Object.freeze({
    ...(maxAge !== undefined ? { maxAge: maxAge as number } : {}),
    ...(acrValues !== undefined ? { acr: acrValues } : {}),
    ...(amrValues !== undefined ? { amr: amrValues } : {}),
    text: parts.join(", "),
  });
}

function values(raw: unknown, name: string): readonly string[] | undefined {
  if (raw === undefined) return undefined;
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > MAX_VALUES || !raw.every(isRequirementValue)) {
    throw new Error(
      `"${name}" must be a list of 1 to ${MAX_VALUES} values (visible ASCII, no spaces, quotes or backslashes)`,
    );
  }
  return Object.freeze([...new Set(raw as string[])]);
}

/** How `payload` falls short of `requirement`, in words for the log; undefined when it does not. */
export function shortfall(
  requirement: AuthenticationRequirement,
  payload: Readonly<Record<string, unknown>>,
  nowSeconds: number,
  toleranceSeconds: number,
): string | undefined {
  if (requirement.maxAge !== undefined) {
    const authenticatedAt = authenticationTime(payload);
    if (authenticatedAt === undefined) return "the token says nothing of when the user signed in (no auth_time)";
    const age = nowSeconds - authenticatedAt;
    if (age > requirement.maxAge + toleranceSeconds) {
      return `the user signed in ${Math.floor(age)} s ago, more than max_auth_age ${requirement.maxAge}`;
    }
  }
  if (requirement.acr !== undefined) {
    const { acr } = payload;
    if (typeof acr !== "string" || !requirement.acr.includes(acr)) {
      return `the token's acr (${typeof acr === "string" ? acr : "none"}) is not one of [${requirement.acr.join(" ")}]`;
    }
  }
  if (requirement.amr !== undefined) {
    const { amr } = payload;
    const methods = Array.isArray(amr) ? amr : [];
    if (!requirement.amr.some((method) => methods.includes(method))) {
      return `the token's amr holds none of [${requirement.amr.join(" ")}]`;
    }
  }
  return undefined;
}

/**
 * When the user last authenticated: the provider's `auth_time` that the gateway's own
 * tokens carry as `idp_auth_time` (a single sign-on session at the provider can be older
 * than ours), else `auth_time`. Never `iat`: a token minted now says nothing of the sign-in.
 */
function authenticationTime(payload: Readonly<Record<string, unknown>>): number | undefined {
  const candidates = [payload.idp_auth_time, payload.auth_time].filter(
    (value): value is number => typeof value === "number" && Number.isFinite(value),
  );
  return candidates.length === 0 ? undefined : Math.min(...candidates);
}

/** The first requirement `payload` falls short of, with why; undefined when all are met. */
export function unmetRequirement(
  requirements: readonly AuthenticationRequirement[],
  payload: Readonly<Record<string, unknown>>,
  nowSeconds: number,
  toleranceSeconds: number,
): { readonly requirement: AuthenticationRequirement; readonly why: string } | undefined {
  for (const requirement of requirements) {
    const why = shortfall(requirement, payload, nowSeconds, toleranceSeconds);
    if (why !== undefined) return { requirement, why };
  }
  return undefined;
}

/**
 * What to ask for so that a new sign-in meets every requirement: the shortest max age, and
 * the acr values every rule accepts (where rules disagree, the first rule's).
 */
export function stepUpFor(requirements: readonly AuthenticationRequirement[]): StepUp {
  let maxAge: number | undefined;
  let acrValues: readonly string[] | undefined;
  for (const requirement of requirements) {
    if (requirement.maxAge !== undefined) maxAge = Math.min(maxAge ?? requirement.maxAge, requirement.maxAge);
    if (requirement.acr !== undefined) {
      const shared: readonly string[] =
        acrValues?.filter((value) => requirement.acr?.includes(value)) ?? requirement.acr;
      acrValues = shared.length > 0 ? shared : acrValues;
    }
  }
  // An `amr` alone cannot be asked for in OIDC; a fresh sign-in (max_age 0) is the most a login can ask.
  if (maxAge === undefined && acrValues === undefined && requirements.some((requirement) => requirement.amr)) {
    maxAge = 0;
  }
  return { ...(maxAge !== undefined ? { maxAge } : {}), ...(acrValues !== undefined ? { acrValues } : {}) };
}

/**
 * The refusal of a token whose sign-in falls short of `requirements` (RFC 9470's
 * `insufficient_user_authentication`, with what a new sign-in must bring), or undefined when
 * it meets them: one answer for the gateway's route rules and portcullis/hono's requireSignIn.
 */
export function stepUpRefusal(
  requirements: readonly AuthenticationRequirement[],
  payload: Readonly<Record<string, unknown>>,
  nowSeconds: number,
  toleranceSeconds: number,
): GatewayError | undefined {
  const unmet = unmetRequirement(requirements, payload, nowSeconds, toleranceSeconds);
  if (unmet === undefined) return undefined;
  const provider = typeof payload.idp === "string" ? payload.idp : undefined;
  return new GatewayError("insufficient_user_authentication", {
    detail: `step-up: ${unmet.why}`,
    stepUp: { ...stepUpFor(requirements), ...(provider !== undefined ? { provider } : {}) },
  });
}
