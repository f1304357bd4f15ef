/**
 * The conditions a route rule can `require` (docs/policy.md): over the verified access
 * token's claims, and over where the request comes from. Parsed once, at config time, by
 * parse-condition.ts; judged per request by check-condition.ts.
 */
import type { IpRange } from "./ip-range";

/** A value a claim condition compares with: what TOML and JSON both write plainly. */
export type ClaimValue = string | number | boolean;

export type ClaimTest =
  | { readonly op: "equals"; readonly value: ClaimValue }
  | { readonly op: "any_of"; readonly values: readonly ClaimValue[] }
  | { readonly op: "all_of"; readonly values: readonly ClaimValue[] }
  | { readonly op: "exists"; readonly exists: boolean };

export type Condition = (
  | { readonly kind: "claim"; readonly path: readonly string[]; readonly test: ClaimTest }
  | { readonly kind: "email"; readonly emails: readonly string[] }
  | { readonly kind: "email_domain"; readonly domains: readonly string[] }
  | { readonly kind: "groups"; readonly groups: readonly string[] }
  | { readonly kind: "ip"; readonly ranges: readonly IpRange[] }
  | { readonly kind: "country"; readonly countries: readonly string[] }
  | { readonly kind: "asn"; readonly asns: readonly number[] }
  | { readonly kind: "client_certificate" }
  | { readonly kind: "all"; readonly conditions: readonly Condition[] }
  | { readonly kind: "any"; readonly conditions: readonly Condition[] }
  | { readonly kind: "not"; readonly condition: Condition }
) & {
  /** The condition in words, for the log and `portcullis explain` (`claim org.id equals "acme"`). */
  readonly text: string;
  /**
   * What it reads: the token only ("identity"), the request only ("request"), or both.
   * A failed identity condition is refused as `insufficient_scope` (another token could
   * pass), a request-only one as `access_denied` (no token would).
   */
  readonly about: "identity" | "request" | "both";
};

/**
 * What conditions are judged on. `claims` is the verified token's payload; `clientIp` the
 * platform's `CF-Connecting-IP`; `cf` the runtime's `request.cf` (undefined where there
 * is none, as in `portcullis explain` without `--cf`).
 */
export interface ConditionFacts {
  readonly claims: Readonly<Record<string, unknown>>;
  readonly clientIp: string | undefined;
  readonly cf: RequestCf | undefined;
}

/** The members of `request.cf` conditions read; anything else there is ignored. */
export interface RequestCf {
  readonly country?: unknown;
  readonly asn?: unknown;
  readonly tlsClientAuth?: unknown;
}

/** The keys of a condition object, each with what it means (docs/policy.md lists the same). */
export const CONDITION_KEYS = Object.freeze({
  claim: 'a claim of the token: a dotted path ("org.id") or a list of member names (["https://example.com/org", "id"])',
  equals: "with claim: the claim is this value (or an array holding it)",
  any_of: "with claim: the claim is one of these (or an array holding one of them)",
  all_of: "with claim: the claim is an array holding all of these",
  exists: "with claim: true, the claim is present (not null); false, it is absent",
  email: "the token's `email` is one of these (letter case ignored; `email_verified` must be true when present)",
  email_domain: "the domain of the token's `email` is one of these (exactly; not subdomains)",
  groups: "the token's `groups` (or, without `groups`, its `roles`) holds one of these",
  ip: "the client address (CF-Connecting-IP) is in one of these ranges (CIDR, IPv4 or IPv6)",
  country: 'the request\'s country (`request.cf.country`, ISO 3166-1 alpha-2, e.g. "DE") is one of these',
  asn: "the request's network (`request.cf.asn`) is one of these AS numbers",
  client_certificate: '"verified": a client certificate that API Shield mTLS verified (`request.cf.tlsClientAuth`)',
  all: "every one of these conditions holds",
  any: "at least one of these conditions holds",
  not: "this condition does not hold",
});

/** Combinators nest at most this deep: `{ all = [{ any = [{ not = … }] }] }` is three. */
export const MAX_CONDITION_DEPTH = 4;
