/**
 * The signed upstream assertion (docs/upstream-assertion.md): UPSTREAM_ASSERTION turns it
 * on, UPSTREAM_ASSERTION_AUDIENCE names who it is for (by default the upstream's origin),
 * UPSTREAM_ASSERTION_CLAIMS which of the access token's other claims it copies; a route
 * rule's `assertion_audience` names another audience for its route.
 *
 * It is signed with the gateway's own active key (SIGNING_KEYS), whose public half the
 * upstream fetches from /.well-known/jwks.json; an HS256 ACCESS_SECRET cannot be verified
 * from a JWKS, so the setting needs SIGNING_KEYS.
 */
import type { JWK } from "jose";
import type { RouteRule } from "../policy/route-rule";
import { isAudienceName } from "../schema/audience-name";
import type { UpstreamAssertionConfig, UpstreamTarget } from "./config";
import type { ConfigEnv } from "./env";
import { ConfigError, json, parseBoolean, text } from "./env-readers";

/** How long an assertion is good for: long enough for clock skew, too short to keep. */
export const UPSTREAM_ASSERTION_TTL_SECONDS = 60;

/** Claims the assertion sets itself: a copied claim may not stand in for one of them. */
const OWN_CLAIMS = new Set([
  "iss",
  "aud",
  "sub",
  "sid",
  "scope",
  "roles",
  "cnf",
  "iat",
  "exp",
  "nbf",
  "jti",
  "htm",
  "req",
  "token_issuer",
]);
const CLAIM_NAME = /^[\x21-\x7e]{1,64}$/;

/** UPSTREAM_ASSERTION_CLAIMS: the names of the access token's claims to copy, e.g. ["email", "groups"]. */
function parseCopiedClaims(env: ConfigEnv): readonly string[] {
  const raw = json(env, "UPSTREAM_ASSERTION_CLAIMS");
  if (raw === undefined) return Object.freeze([]);
  if (!Array.isArray(raw) || raw.some((name) => typeof name !== "string" || !CLAIM_NAME.test(name))) {
    throw new ConfigError("UPSTREAM_ASSERTION_CLAIMS", 'must be a list of claim names ("email")');
  }
  const own = raw.find((name: string) => OWN_CLAIMS.has(name));
  if (own !== undefined) {
    throw new ConfigError("UPSTREAM_ASSERTION_CLAIMS", `"${own}" is set by the gateway itself and cannot be copied`);
  }
  return Object.freeze([...new Set(raw as string[])]);
}

export function parseUpstreamAssertion(
  env: ConfigEnv,
  upstream: UpstreamTarget,
  signingKeys: readonly JWK[],
  routes: readonly RouteRule[],
): UpstreamAssertionConfig | undefined {
  const audience = text(env, "UPSTREAM_ASSERTION_AUDIENCE");
  const claims = parseCopiedClaims(env);
  if (!parseBoolean(env, "UPSTREAM_ASSERTION", false)) {
    // Refused rather than ignored: an upstream team told its route gets its own audience
    // would otherwise find out from requests without any assertion.
    const index = routes.findIndex((rule) => rule.assertionAudience !== undefined);
    if (index !== -1) {
      throw new ConfigError(
        "ROUTES",
        `rule ${index} (${routes[index]?.path}) has "assertion_audience" but UPSTREAM_ASSERTION is not true`,
      );
    }
    if (audience !== undefined) {
      throw new ConfigError("UPSTREAM_ASSERTION_AUDIENCE", "is set but UPSTREAM_ASSERTION is not true");
    }
    if (claims.length > 0)
      throw new ConfigError("UPSTREAM_ASSERTION_CLAIMS", "is set but UPSTREAM_ASSERTION is not true");
    return undefined;
  }
  if (signingKeys.length === 0) {
    throw new ConfigError(
      "UPSTREAM_ASSERTION",
      "needs SIGNING_KEYS: the assertion is signed with the gateway's own key, which the upstream reads from /.well-known/jwks.json",
    );
  }
  if (audience !== undefined) {
    // A URL or any other name the upstream checks for; only its form is ours to check.
    if (!isAudienceName(audience))
      throw new ConfigError("UPSTREAM_ASSERTION_AUDIENCE", "must not contain spaces or quotes");
    return Object.freeze({ audience, ttlSeconds: UPSTREAM_ASSERTION_TTL_SECONDS, claims });
  }
  if (upstream.kind !== "url") {
    throw new ConfigError(
      "UPSTREAM_ASSERTION_AUDIENCE",
      "is required with UPSTREAM_ASSERTION when the upstream has no UPSTREAM_URL (its origin is the default)",
    );
  }
  return Object.freeze({ audience: upstream.origin, ttlSeconds: UPSTREAM_ASSERTION_TTL_SECONDS, claims });
}
