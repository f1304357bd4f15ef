/**
 * RFC 7662 introspection of opaque access tokens, for the one trusted issuer whose entry
 * sets `introspection` (docs/identities.md, "Opaque tokens: introspection").
 *
 * A token with no "." in it is opaque: it goes to that issuer's introspection endpoint
 * (oauth4webapi, client_secret_basic, within `timeout_ms`). A token with a dot is a JWT and
 * is never sent there, so neither the gateway's own tokens nor another issuer's ever reach
 * the provider. The answer must be `active`, name this issuer (`iss`, when it says), be
 * made for one of its `audience`s, have a `token_type` of Bearer or DPoP (when it says), an
 * `exp` and an `iat`; then it maps to claims as a JWT of the same issuer does
 * (`readTrustedClaims`: `subject_prefix`, `scope_claim`, `roles_claim`), the subject being
 * `sub`, or `client_id` for a client's own token (client_credentials), as RFC 9068 §2.2 has it.
 *
 * Fails closed: an endpoint that cannot be reached, times out, refuses the gateway's client
 * or answers garbage is `introspection_unavailable` (503), never a 401 the client would
 * take as "get a new token", and never a pass.
 */
import * as oauth from "oauth4webapi";
import type { IntrospectionConfig, TrustedIssuerConfig } from "../config/config";
import { GatewayError } from "../errors/gateway-error";
import { log } from "../log/logger";
import type { AccessTokenClaims } from "./access-token-claims";
import { IntrospectionCache, tokenDigest } from "./introspection-cache";
import { readTrustedClaims } from "./trusted-issuers";
import type { VerifyOptions, VerifyResult } from "./verify-result";

/** The issuer's settings, with `introspection` set. */
export type IntrospectedIssuer = TrustedIssuerConfig & { readonly introspection: IntrospectionConfig };

/** Opaque to the gateway: not a JWT (a JWS or JWE always has dots), so only its issuer can say what it is. */
export function isOpaqueToken(token: string): boolean {
  return !token.includes(".");
}

/** No token may live longer than this (as for JWTs, verify-access-token.ts). */
const MAX_LIFETIME_SECONDS = 24 * 60 * 60;
const TOKEN_TYPES = new Set(["bearer", "dpop"]);

function invalid(detail: string): GatewayError {
  return new GatewayError("token_invalid", { detail });
}

export class TokenIntrospection {
  readonly issuer: IntrospectedIssuer;
  readonly #fetcher: typeof fetch;
  readonly #cache = new IntrospectionCache();
  readonly #server: oauth.AuthorizationServer;
  readonly #client: oauth.Client;
  readonly #authentication: oauth.ClientAuth;

  constructor(issuer: IntrospectedIssuer, fetcher: typeof fetch) {
    this.issuer = issuer;
    this.#fetcher = fetcher;
    this.#server = { issuer: issuer.issuer, introspection_endpoint: issuer.introspection.url };
    this.#client = { client_id: issuer.introspection.clientId };
    this.#authentication = oauth.ClientSecretBasic(issuer.introspection.clientSecret);
  }

  /** Entries remembered now (for tests and the benchmarks). */
  get remembered(): number {
    return this.#cache.size;
  }

  /** What the provider says of this opaque token, remembered as the cache's rules allow. */
  async verify(token: string, options: VerifyOptions): Promise<VerifyResult> {
    const digest = await tokenDigest(token);
    const known = this.#cache.get(digest, options.now);
    if (known !== undefined) {
      if (known.claims === "inactive") throw invalid(`not active at issuer ${this.issuer.id} (remembered)`);
      return timed(known.claims, options);
    }
    const answer = await this.#ask(token);
    const { introspection } = this.issuer;
    let claims: AccessTokenClaims;
    try {
      if (!answer.active) throw invalid(`not active at issuer ${this.issuer.id}`);
      claims = claimsOfAnswer(answer, token, this.issuer, options);
    } catch (error) {
      // Inactive, or active but not for us (another audience, a refresh token): the same
      // token presented again is refused without asking for a while.
      this.#cache.set(digest, "inactive", options.now + introspection.negativeCacheSeconds * 1000, options.now);
      throw error;
    }
    const until = Math.min(claims.exp * 1000, options.now + introspection.cacheSeconds * 1000);
    this.#cache.set(digest, claims, until, options.now);
    return timed(claims, options);
  }

  async #ask(token: string): Promise<oauth.IntrospectionResponse> {
    const { introspection, id } = this.issuer;
    try {
      const response = await oauth.introspectionRequest(this.#server, this.#client, this.#authentication, token, {
        additionalParameters: { token_type_hint: "access_token" },
        signal: AbortSignal.timeout(introspection.timeoutMs),
        [oauth.customFetch]: this.#fetcher,
        [oauth.allowInsecureRequests]: introspection.allowInsecureRequests,
      });
      return await oauth.processIntrospectionResponse(this.#server, this.#client, response);
    } catch (error) {
      // Name and code only: oauth4webapi's errors carry the response, never worth a log line.
      const name = error instanceof Error ? error.name : "unknown";
      const code = (error as { code?: unknown; error?: unknown }).error ?? (error as { code?: unknown }).code;
      const detail = `introspection at issuer ${id} failed: ${name}${typeof code === "string" ? ` (${code})` : ""}`;
      if (error instanceof oauth.ResponseBodyError && error.status === 401) {
        // The provider refused the gateway's own client: a configuration to fix, not an outage.
        log.error("introspection_client_refused", { issuer: id, detail });
      }
      throw new GatewayError("introspection_unavailable", { detail, retryAfter: 5 });
    }
  }
}

/** The claims an active answer gives, checked as a JWT of this issuer would be; throws token_invalid. */
function claimsOfAnswer(
  answer: oauth.IntrospectionResponse,
  token: string,
  issuer: IntrospectedIssuer,
  options: VerifyOptions,
): AccessTokenClaims {
  const { id } = issuer;
  if (answer.iss !== undefined && answer.iss !== issuer.issuer) throw invalid(`iss is not issuer ${id}'s`);
  const audiences = typeof answer.aud === "string" ? [answer.aud] : Array.isArray(answer.aud) ? answer.aud : [];
  if (!audiences.some((audience) => issuer.audience.includes(audience))) {
    throw invalid(`aud is not an audience of issuer ${id}`);
  }
  const tokenType = answer.token_type;
  if (tokenType !== undefined && (typeof tokenType !== "string" || !TOKEN_TYPES.has(tokenType.toLowerCase()))) {
    throw invalid(`token_type of issuer ${id} is not Bearer or DPoP`);
  }
  if (typeof answer.exp !== "number" || typeof answer.iat !== "number") {
    throw invalid(`answer of issuer ${id} has no exp or iat`);
  }
  const nowSeconds = Math.floor(options.now / 1000);
  const tolerance = options.clockToleranceSeconds;
  if (typeof answer.nbf === "number" && answer.nbf > nowSeconds + tolerance) throw invalid("nbf is in the future");
  if (answer.iat > nowSeconds + tolerance) throw invalid("iat is in the future");
  if (answer.exp - answer.iat > MAX_LIFETIME_SECONDS) throw invalid("lifetime longer than the cap");
  if (issuer.maxTokenAge !== undefined && nowSeconds - answer.iat > issuer.maxTokenAge + tolerance) {
    throw invalid(`older than max_token_age of issuer ${id}`);
  }
  const payload: Record<string, unknown> = {
    ...answer,
    iss: issuer.issuer,
    sub: answer.sub ?? answer.client_id,
    // A provider whose token is its own id would make the jti the token: never keep that.
    jti: answer.jti === token ? undefined : answer.jti,
  };
  const claims = readTrustedClaims(payload, issuer);
  if (claims === undefined) throw invalid(`answer of issuer ${id} has claims of the wrong types or sizes`);
  return claims;
}

/** Valid or expired at `now`, as the verification cache tells it for a JWT. */
function timed(claims: AccessTokenClaims, options: VerifyOptions): VerifyResult {
  const expired = claims.exp <= Math.floor(options.now / 1000) - options.clockToleranceSeconds;
  return expired ? { status: "expired", claims } : { status: "valid", claims };
}
