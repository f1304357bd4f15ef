/**
 * `portcullis(...)`: the gateway's authentication as Hono middleware. It runs the same
 * steps as the standalone gateway (gateway/authenticate.ts): reads the access token,
 * verifies it (own keys, a JWKS or a remote JWKS), refreshes an expired one transparently
 * through the session object, checks the KV revocation list, and puts the caller in
 * `c.var.auth`. A refused request gets the same RFC 6750 / problem+json answer.
 *
 * @example
 * app.use("/api/*", portcullis());
 * app.get("/api/me", (c) => c.json({ sub: c.var.auth.sub }));
 * app.delete("/api/orders/:id", requireRoles("operator"), handler);
 * app.post("/api/payouts", requireSignIn({ maxAge: 300, acr: ["urn:okta:loa:2fa:any"] }), handler);
 */

import type { Env as HonoEnv, MiddlewareHandler } from "hono";
import { decodeJwt, type JWTPayload } from "jose";
import { GatewayError } from "../errors/gateway-error";
import { answerError } from "../gateway/answer-error";
import { answerRefresh, authenticate } from "../gateway/authenticate";
import type { RequestContext } from "../gateway/request-context";
import { parseAuthenticationRequirement, stepUpRefusal } from "../policy/authentication-requirement";
import { missingGrants } from "../policy/route-policy";
import type { AccessTokenClaims } from "../tokens/access-token-claims";
import { type PortcullisOptions, resolveOptions } from "./options";

/** Who is calling, as `c.var.auth`. */
export interface AuthIdentity {
  readonly sub: string;
  /** The session id; `undefined` for a token that belongs to no session of ours. */
  readonly sid: string | undefined;
  readonly scopes: ReadonlySet<string>;
  readonly roles: ReadonlySet<string>;
  /**
   * The thumbprint of the DPoP key the token is bound to, whose proof came with this
   * request (docs/dpop.md); `undefined` for a bearer token.
   */
  readonly jkt: string | undefined;
  /** Every claim of the verified access token, as sent. */
  readonly claims: JWTPayload;
  /** The verified access token (a new one when it was refreshed on the way); not enumerable. */
  readonly token: string;
}

/** Add to your app's `Variables` to type `c.var.auth`. */
export interface PortcullisVariables {
  auth: AuthIdentity;
}

type AuthEnv = { Variables: PortcullisVariables };

// The context of the request the middleware authenticated, for requireScopes/requireRoles' answers.
const contexts = new WeakMap<Request, RequestContext>();

function identityOf(claims: AccessTokenClaims, token: string): AuthIdentity {
  let raw: JWTPayload | undefined;
  const identity = {
    sub: claims.sub,
    sid: claims.sid,
    // Copies: the verified claims are cached and shared by later requests with this token.
    scopes: new Set(claims.scopes),
    roles: new Set(claims.roles),
    jkt: claims.jkt,
    // Decoded only when read; the token's signature and claims were checked already.
    get claims() {
      raw ??= Object.freeze(decodeJwt(token));
      return raw;
    },
  };
  // Not enumerable, so logging or serializing c.var.auth does not write the token out.
  return Object.defineProperty(identity, "token", { value: token, enumerable: false }) as typeof identity & {
    readonly token: string;
  };
}

/** The authentication middleware. Options are checked here, once; see PortcullisOptions. */
export function portcullis<E extends HonoEnv = HonoEnv>(options?: PortcullisOptions<E>): MiddlewareHandler<AuthEnv> {
  const resolved = resolveOptions(options);
  return async function portcullisAuthenticate(c, next) {
    let context: RequestContext | undefined;
    let authenticated: Awaited<ReturnType<typeof authenticate>>;
    try {
      context = await resolved.contextFor(c);
      authenticated = await authenticate(context, c.req.raw);
    } catch (error) {
      return answerError(error, context, c.req.raw);
    }
    contexts.set(c.req.raw, context);
    c.set("auth", identityOf(authenticated.claims, authenticated.token));
    await next();
    if (authenticated.refreshed !== undefined && c.res.status !== 101) {
      // Assigning c.res makes Hono copy the answer, so its headers are ours to change even
      // when the handler passed a fetch() answer through.
      c.res = new Response(c.res.body, c.res);
      answerRefresh(context, c.res.headers, authenticated);
    }
    return undefined;
  };
}

function requireGrants(kind: "scopes" | "roles", names: readonly string[]): MiddlewareHandler<AuthEnv> {
  if (names.length === 0 || !names.every((name) => typeof name === "string" && name !== "")) {
    throw new TypeError(`require${kind === "scopes" ? "Scopes" : "Roles"}: give one or more non-empty names`);
  }
  const route = {
    access: "protected",
    scopes: kind === "scopes" ? names : [],
    roles: kind === "roles" ? names : [],
  } as const;
  return async function requireGrantsOfRoute(c, next) {
    const auth = c.get("auth") as AuthIdentity | undefined;
    const context = contexts.get(c.req.raw);
    if (auth === undefined) {
      return answerError(
        new GatewayError("misconfigured", { detail: "requireScopes/requireRoles runs after portcullis()" }),
        context,
        c.req.raw,
      );
    }
    const missing = missingGrants(route, auth);
    if (missing.scopes.length > 0 || missing.roles.length > 0) {
      return answerError(
        new GatewayError("insufficient_scope", {
          detail: `missing scopes [${missing.scopes.join(" ")}] roles [${missing.roles.join(" ")}]`,
          requiredScopes: route.scopes,
        }),
        context,
        c.req.raw,
      );
    }
    await next();
    return undefined;
  };
}

/** Refuses (403 insufficient_scope) a caller whose token lacks any of these scopes. */
export function requireScopes(...scopes: string[]): MiddlewareHandler<AuthEnv> {
  return requireGrants("scopes", scopes);
}

/** Refuses (403 insufficient_scope) a caller who lacks any of these roles. */
export function requireRoles(...roles: string[]): MiddlewareHandler<AuthEnv> {
  return requireGrants("roles", roles);
}

/** What `requireSignIn` asks of the sign-in behind the caller's token (docs/policy.md, "Step-up"). */
export interface SignInRequirement {
  /** Seconds since the user last signed in, at most (the provider's `auth_time`, else the session's start). */
  readonly maxAge?: number;
  /** The token's `acr` is one of these. */
  readonly acr?: readonly string[];
  /** The token's `amr` holds one of these. */
  readonly amr?: readonly string[];
}

/**
 * Refuses a caller whose sign-in is older or weaker than asked: 401
 * `insufficient_user_authentication` with `max_age` / `acr_values` (RFC 9470), or, for a
 * browser navigation with OIDC login on, the login that asks the provider for them. The
 * options are checked here, once, as a route rule's `max_auth_age` / `acr` / `amr` are.
 *
 * @example
 * app.post("/api/payouts", requireSignIn({ maxAge: 300 }), handler);
 */
export function requireSignIn(requirement: SignInRequirement): MiddlewareHandler<AuthEnv> {
  let parsed: ReturnType<typeof parseAuthenticationRequirement>;
  try {
    parsed = parseAuthenticationRequirement({
      max_auth_age: requirement?.maxAge,
      acr: requirement?.acr,
      amr: requirement?.amr,
    });
  } catch (error) {
    throw new TypeError(`requireSignIn: ${(error as Error).message.replace(/"max_auth_age"/, '"maxAge"')}`);
  }
  if (parsed === undefined) throw new TypeError("requireSignIn: give maxAge, acr or amr");
  const requirements = [parsed];
  return async function requireSignInOfRoute(c, next) {
    const auth = c.get("auth") as AuthIdentity | undefined;
    const context = contexts.get(c.req.raw);
    if (auth === undefined || context === undefined) {
      const error = new GatewayError("misconfigured", { detail: "requireSignIn runs after portcullis()" });
      return answerError(error, context, c.req.raw);
    }
    const now = context.now() / 1000;
    const refusal = stepUpRefusal(requirements, auth.claims, now, context.config.clockToleranceSeconds);
    if (refusal !== undefined) return answerError(refusal, context, c.req.raw);
    await next();
    return undefined;
  };
}
