/**
 * The upstream's side of the signed upstream assertion (docs/upstream-assertion.md), for
 * any framework: `createAssertionChecker(...)` checks a `Portcullis-Assertion` against the
 * gateway's JWKS (its `typ`, `iss`, `aud`, `exp`) and that it was made for this very method
 * and path, and returns who the gateway says is calling. `verifyAssertion()` is the same
 * check as Hono middleware.
 *
 * Nothing here but jose and the platform's WebCrypto and fetch, so it loads in Node, Bun,
 * Deno and Workers alike (`portcullis/assertion`).
 *
 * @example
 * // Express (or node:http: `req.url`)
 * const checkAssertion = createAssertionChecker({
 *   jwksUrl: "https://gateway.example.com/.well-known/jwks.json",
 *   issuer: "https://gateway.example.com",
 *   audience: "https://orders.internal.example",
 * });
 * app.use(async (req, res, next) => {
 *   try {
 *     req.caller = await checkAssertion(req.get("portcullis-assertion"), req.method, req.originalUrl);
 *     next();
 *   } catch {
 *     res.status(401).end();
 *   }
 * });
 */
import { createRemoteJWKSet, errors, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from "jose";
import { ASSERTION_TYPE, requestHash } from "../tokens/upstream-assertion";

export interface AssertionCheckOptions {
  /** The gateway's `/.well-known/jwks.json` (fetched and cached by jose's `createRemoteJWKSet`). */
  readonly jwksUrl?: string | URL;
  /** Instead of `jwksUrl`: the keys, as jose's `createLocalJWKSet` or `createRemoteJWKSet` gives them. */
  readonly keys?: JWTVerifyGetKey;
  /** The gateway's TOKEN_ISSUER. */
  readonly issuer: string;
  /**
   * What this service is: the gateway's UPSTREAM_ASSERTION_AUDIENCE (by default UPSTREAM_URL's
   * origin), or the `assertion_audience` of the route rules in front of it.
   */
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
}

/** Why an assertion was refused. */
export type AssertionRefusal = "missing" | "invalid" | "expired" | "wrong_request" | "keys_unavailable";

/** What a checker throws: `code` says why; the message is for the log, never for the client. */
export class AssertionRefusedError extends Error {
  override readonly name = "AssertionRefusedError";
  readonly code: AssertionRefusal;

  constructor(code: AssertionRefusal, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** The caller, as the gateway asserted it. */
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

/**
 * Checks one request's assertion: the header's value (undefined or "" when absent), the
 * request's method, and its request-target as received (`"/api/orders?page=2"`: Express's
 * `req.originalUrl`, node:http's `req.url`; an absolute URL also does). The query is not
 * compared. Resolves to the caller, or rejects with an AssertionRefusedError.
 */
export type AssertionChecker = (
  assertion: string | null | undefined,
  method: string,
  target: string,
) => Promise<AssertedIdentity>;

const ALGORITHMS = ["EdDSA", "ES256", "RS256"];
const REQUIRED_CLAIMS = ["iat", "exp", "jti", "sub", "htm", "req"];

function identityOf(claims: JWTPayload): AssertedIdentity {
  const { sub, sid, scope, roles, cnf, token_issuer } = claims as JWTPayload & Record<string, unknown>;
  if (typeof sub !== "string") throw new AssertionRefusedError("invalid", "no sub");
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

function refusalOf(error: unknown): AssertionRefusedError {
  if (error instanceof AssertionRefusedError) return error;
  const message = (error as Error)?.message ?? String(error);
  if (error instanceof errors.JWTExpired) return new AssertionRefusedError("expired", message, { cause: error });
  if (error instanceof errors.JWKSTimeout)
    return new AssertionRefusedError("keys_unavailable", message, { cause: error });
  if (error instanceof errors.JOSEError) return new AssertionRefusedError("invalid", message, { cause: error });
  // Not jose's: the JWKS could not be fetched or read.
  return new AssertionRefusedError("keys_unavailable", message, { cause: error });
}

/** The path of a request-target or absolute URL, as sent: escapes kept, no query or fragment. */
function pathOf(target: string): string {
  let start = 0;
  if (!target.startsWith("/")) {
    const authority = target.indexOf("//");
    start = authority === -1 ? -1 : target.indexOf("/", authority + 2);
    if (start === -1) return "/";
  }
  const end = target.slice(start).search(/[?#]/);
  return end === -1 ? target.slice(start) : target.slice(start, start + end);
}

/** A checker for one service; the options are checked here, once (a TypeError names the wrong one). */
export function createAssertionChecker(options: AssertionCheckOptions): AssertionChecker {
  const { issuer, audience, pathPrefix = "", clockToleranceSeconds = 5, now } = options;
  if (typeof issuer !== "string" || issuer === "") throw new TypeError("portcullis/assertion: issuer is required");
  if (typeof audience !== "string" || audience === "")
    throw new TypeError("portcullis/assertion: audience is required");
  if ((options.jwksUrl === undefined) === (options.keys === undefined)) {
    throw new TypeError("portcullis/assertion: give jwksUrl or keys, one of them");
  }
  if (pathPrefix !== "" && (!pathPrefix.startsWith("/") || pathPrefix.endsWith("/"))) {
    throw new TypeError('portcullis/assertion: pathPrefix starts with "/" and does not end with one ("/v1")');
  }
  const keys = options.keys ?? createRemoteJWKSet(new URL(options.jwksUrl as string | URL));
  const verifyOptions = {
    issuer,
    audience,
    typ: ASSERTION_TYPE,
    algorithms: ALGORITHMS,
    clockTolerance: clockToleranceSeconds,
    requiredClaims: REQUIRED_CLAIMS,
  };

  return async function checkAssertion(assertion, method, target) {
    try {
      if (assertion === null || assertion === undefined || assertion === "") {
        throw new AssertionRefusedError("missing", "no Portcullis-Assertion header");
      }
      const { payload } = await jwtVerify(assertion, keys, {
        ...verifyOptions,
        ...(now === undefined ? {} : { currentDate: new Date(now()) }),
      });
      const path = `${pathPrefix}${pathOf(target)}`;
      if (payload.htm !== method || payload.req !== (await requestHash(method, path))) {
        throw new AssertionRefusedError("wrong_request", `made for another request than ${method} ${path}`);
      }
      return identityOf(payload);
    } catch (error) {
      throw refusalOf(error);
    }
  };
}
