/**
 * `verifyAssertion(...)`: for an UPSTREAM written in Hono, behind the standalone gateway
 * with UPSTREAM_ASSERTION on. It checks the `Portcullis-Assertion` header against the
 * gateway's JWKS (its `typ`, `iss`, `aud`, `exp`, and that it was made for this very
 * method and path) and puts the caller in `c.var.assertion`. A request without a valid
 * one, such as a request that reached the upstream some other way, gets a 401.
 *
 * @example
 * app.use("/api/*", verifyAssertion({
 *   jwksUrl: "https://gateway.example.com/.well-known/jwks.json",
 *   issuer: "https://gateway.example.com",
 *   audience: "https://api.internal.example.com",
 * }));
 * app.get("/api/me", (c) => c.json({ sub: c.var.assertion.sub }));
 */
import type { MiddlewareHandler } from "hono";
import { createRemoteJWKSet, errors, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from "jose";
import { ASSERTION_HEADER, ASSERTION_TYPE, requestHash } from "../tokens/upstream-assertion";

export interface VerifyAssertionOptions {
  /** The gateway's `/.well-known/jwks.json` (fetched and cached by jose's `createRemoteJWKSet`). */
  readonly jwksUrl?: string | URL;
  /** Instead of `jwksUrl`: the keys, as jose's `createLocalJWKSet` or `createRemoteJWKSet` gives them. */
  readonly keys?: JWTVerifyGetKey;
  /** The gateway's TOKEN_ISSUER. */
  readonly issuer: string;
  /** The gateway's UPSTREAM_ASSERTION_AUDIENCE (by default UPSTREAM_URL's origin). */
  readonly audience: string;
  /**
   * A leading part of the path the gateway sent that this app does not see, because
   * something between them removed it (a proxy that strips `/v1`): it is put back in front
   * of the request's path before the path is compared. Default: none.
   */
  readonly pathPrefix?: string;
  /** Seconds of clock difference allowed on `iat` and `exp` (default 5). */
  readonly clockToleranceSeconds?: number;
  /** The clock, in milliseconds since the epoch (default `Date.now`). */
  readonly now?: () => number;
  /** Told why a request was refused (e.g. to log it); the answer itself says nothing more than 401. */
  readonly onRefused?: (reason: AssertionRefusal, detail: string) => void;
}

/** Why an assertion was refused. */
export type AssertionRefusal = "missing" | "invalid" | "expired" | "wrong_request" | "keys_unavailable";

/** The caller, as the gateway asserted it: `c.var.assertion`. */
export interface AssertedIdentity {
  readonly sub: string;
  /** The gateway session; undefined for a token of no session of the gateway's. */
  readonly sid: string | undefined;
  readonly scopes: ReadonlySet<string>;
  readonly roles: ReadonlySet<string>;
  /** The thumbprint of the DPoP key the caller's token is bound to (`cnf.jkt`); undefined for a bearer token. */
  readonly jkt: string | undefined;
  /** The id (TRUSTED_ISSUERS) of the issuer of the caller's token (`token_issuer`); undefined for the gateway's own. */
  readonly tokenIssuer: string | undefined;
  /** Every claim of the verified assertion. */
  readonly claims: JWTPayload;
}

/** Add to your app's `Variables` to type `c.var.assertion`. */
export interface AssertionVariables {
  assertion: AssertedIdentity;
}

const ALGORITHMS = ["EdDSA", "ES256", "RS256"];

class Refused extends Error {
  constructor(
    readonly reason: AssertionRefusal,
    detail: string,
  ) {
    super(detail);
  }
}

function identityOf(claims: JWTPayload): AssertedIdentity {
  const { sub, sid, scope, roles, cnf, token_issuer } = claims as JWTPayload & Record<string, unknown>;
  if (typeof sub !== "string") throw new Refused("invalid", "no sub");
  const jkt = (cnf as { jkt?: unknown } | undefined)?.jkt;
  return Object.freeze({
    sub,
    sid: typeof sid === "string" ? sid : undefined,
    scopes: new Set(typeof scope === "string" ? scope.split(" ").filter((item) => item !== "") : []),
    roles: new Set(Array.isArray(roles) ? roles.filter((role): role is string => typeof role === "string") : []),
    jkt: typeof jkt === "string" ? jkt : undefined,
    tokenIssuer: typeof token_issuer === "string" ? token_issuer : undefined,
    claims,
  });
}

function refusalOf(error: unknown): Refused {
  if (error instanceof Refused) return error;
  if (error instanceof errors.JWTExpired) return new Refused("expired", error.message);
  if (error instanceof errors.JWKSTimeout) return new Refused("keys_unavailable", error.message);
  if (error instanceof errors.JOSEError) return new Refused("invalid", error.message);
  // Not jose's: the JWKS could not be fetched or read.
  return new Refused("keys_unavailable", (error as Error)?.message ?? String(error));
}

const UNAUTHORIZED = JSON.stringify({ type: "about:blank", title: "Unauthorized", status: 401 });

/** The verifier middleware. Options are checked here, once; see VerifyAssertionOptions. */
export function verifyAssertion(options: VerifyAssertionOptions): MiddlewareHandler<{ Variables: AssertionVariables }> {
  const { issuer, audience, pathPrefix = "", clockToleranceSeconds = 5, now, onRefused } = options;
  if (typeof issuer !== "string" || issuer === "") throw new TypeError("verifyAssertion: issuer is required");
  if (typeof audience !== "string" || audience === "") throw new TypeError("verifyAssertion: audience is required");
  if ((options.jwksUrl === undefined) === (options.keys === undefined)) {
    throw new TypeError("verifyAssertion: give jwksUrl or keys, one of them");
  }
  if (pathPrefix !== "" && (!pathPrefix.startsWith("/") || pathPrefix.endsWith("/"))) {
    throw new TypeError('verifyAssertion: pathPrefix starts with "/" and does not end with one ("/v1")');
  }
  const keys = options.keys ?? createRemoteJWKSet(new URL(options.jwksUrl as string | URL));
  const verifyOptions = {
    issuer,
    audience,
    typ: ASSERTION_TYPE,
    algorithms: ALGORITHMS,
    clockTolerance: clockToleranceSeconds,
  };
  const requiredClaims = ["iat", "exp", "jti", "sub", "htm", "req"];

  return async function verifyPortcullisAssertion(c, next) {
    try {
      const values = c.req.raw.headers.get(ASSERTION_HEADER);
      if (values === null || values === "") throw new Refused("missing", "no Portcullis-Assertion header");
      const { payload } = await jwtVerify(values, keys, {
        ...verifyOptions,
        requiredClaims,
        ...(now === undefined ? {} : { currentDate: new Date(now()) }),
      });
      const method = c.req.method;
      // The path as it arrived, escapes and all (Hono's c.req.path is decoded).
      const url = c.req.url;
      const pathStart = url.indexOf("/", url.indexOf("//") + 2);
      const query = url.indexOf("?", pathStart);
      const path = pathStart === -1 ? "/" : url.slice(pathStart, query === -1 ? undefined : query);
      if (payload.htm !== method || payload.req !== (await requestHash(method, `${pathPrefix}${path}`))) {
        throw new Refused("wrong_request", `made for another request than ${method} ${pathPrefix}${path}`);
      }
      c.set("assertion", identityOf(payload));
    } catch (error) {
      const refusal = refusalOf(error);
      onRefused?.(refusal.reason, refusal.message);
      return new Response(UNAUTHORIZED, {
        status: 401,
        headers: {
          "content-type": "application/problem+json",
          "www-authenticate": 'Portcullis-Assertion realm="upstream"',
        },
      });
    }
    await next();
    return undefined;
  };
}
