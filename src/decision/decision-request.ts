/**
 * What the gateway tells a decision service about a request (docs/policy.md, "The request
 * the service gets"): who, verified, and what they ask for, and nothing that is a
 * credential. Never the access token itself (the service could replay it), the
 * Authorization header, cookies, the refresh token or any other request header: only the
 * verified token's claims, which its holder can read anyway, and facts the platform set.
 *
 * The query string is left out on purpose: a remembered answer (`cache_seconds`) is kept
 * per method and path, so an answer that depended on the query would be reused for
 * another one.
 */
import type { ExternalDecision } from "../policy/external-decision";

/** The facts of one request a decision is asked about. */
export interface DecisionFacts {
  readonly sub: string;
  readonly sid: string | undefined;
  readonly scopes: ReadonlySet<string>;
  readonly roles: ReadonlySet<string>;
  /** The verified access token's payload. */
  readonly claims: Readonly<Record<string, unknown>>;
  /** The request's method, upper case. */
  readonly method: string;
  /** The canonical path: what the upstream would receive (without UPSTREAM_URL's base path). */
  readonly path: string;
  /** The platform's CF-Connecting-IP. */
  readonly clientIp: string | undefined;
  /** `request.cf.country`, when the platform gave one. */
  readonly country: string | undefined;
  /** `request.cf.asn`, when the platform gave one. */
  readonly asn: number | undefined;
  /** The gateway's id of the request, for the service's own log. */
  readonly requestId: string;
}

/** The JSON body of a decision request; docs/policy.md shows it member by member. */
export interface DecisionRequestBody {
  readonly version: 1;
  readonly request_id: string;
  readonly rule: { readonly index: number; readonly path: string };
  readonly subject: {
    readonly sub: string;
    readonly sid?: string;
    readonly scopes: readonly string[];
    readonly roles: readonly string[];
    readonly claims: Readonly<Record<string, unknown>>;
  };
  readonly request: {
    readonly method: string;
    readonly path: string;
    readonly client_ip?: string;
    readonly country?: string;
    readonly asn?: number;
  };
}

/** Where the request goes. A service binding ignores the host; the path lets the service route. */
export const DECISION_URL = "https://portcullis.invalid/decision";

/** The body sent to the service for `decision` and these facts. */
export function decisionRequestBody(decision: ExternalDecision, facts: DecisionFacts): DecisionRequestBody {
  return {
    version: 1,
    request_id: facts.requestId,
    rule: { index: decision.rule, path: decision.rulePath },
    subject: {
      sub: facts.sub,
      ...(facts.sid !== undefined ? { sid: facts.sid } : {}),
      scopes: [...facts.scopes],
      roles: [...facts.roles],
      claims: facts.claims,
    },
    request: {
      method: facts.method,
      path: facts.path,
      ...(facts.clientIp !== undefined ? { client_ip: facts.clientIp } : {}),
      ...(facts.country !== undefined ? { country: facts.country } : {}),
      ...(facts.asn !== undefined ? { asn: facts.asn } : {}),
    },
  };
}

/** The request to the service: a POST of the body, with no header but the content type's. */
export function decisionRequest(body: DecisionRequestBody, signal: AbortSignal): Request {
  return new Request(DECISION_URL, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify(body),
    signal,
  });
}
