/**
 * `verifyAssertion(...)`: for an UPSTREAM written in Hono (on Workers, Node, Bun or Deno),
 * behind the standalone gateway with UPSTREAM_ASSERTION on. It checks the
 * `Portcullis-Assertion` header as check-assertion.ts does (the gateway's JWKS, `typ`,
 * `iss`, `aud`, `exp`, and that it was made for this very method and path) and puts the
 * caller in `c.var.assertion`. A request without a valid one, such as a request that
 * reached the upstream some other way, gets a 401.
 *
 * Hono is only a type here: the middleware is a plain function of the context.
 *
 * @example
 * import { verifyAssertion, type AssertionVariables } from "portcullis/assertion";
 *
 * app.use("/api/*", verifyAssertion({
 *   jwksUrl: "https://gateway.example.com/.well-known/jwks.json",
 *   issuer: "https://gateway.example.com",
 *   audience: "https://api.internal.example.com",
 * }));
 * app.get("/api/me", (c) => c.json({ sub: c.var.assertion.sub }));
 */
import type { MiddlewareHandler } from "hono";
import { ASSERTION_HEADER } from "../tokens/upstream-assertion";
import {
  type AssertedIdentity,
  type AssertionCheckOptions,
  type AssertionRefusal,
  AssertionRefusedError,
  createAssertionChecker,
} from "./check-assertion";

export interface VerifyAssertionOptions extends AssertionCheckOptions {
  /** Told why a request was refused (e.g. to log it); the answer itself says nothing more than 401. */
  readonly onRefused?: (reason: AssertionRefusal, detail: string) => void;
}

/** Add to your app's `Variables` to type `c.var.assertion`. */
export interface AssertionVariables {
  assertion: AssertedIdentity;
}

const UNAUTHORIZED = JSON.stringify({ type: "about:blank", title: "Unauthorized", status: 401 });

/** The verifier middleware. Options are checked here, once; see VerifyAssertionOptions. */
export function verifyAssertion(options: VerifyAssertionOptions): MiddlewareHandler<{ Variables: AssertionVariables }> {
  const check = createAssertionChecker(options);
  const { onRefused } = options;

  return async function verifyPortcullisAssertion(c, next) {
    try {
      // The URL as it arrived, escapes and all (Hono's c.req.path is decoded).
      c.set("assertion", await check(c.req.raw.headers.get(ASSERTION_HEADER), c.req.method, c.req.url));
    } catch (error) {
      if (!(error instanceof AssertionRefusedError)) throw error;
      onRefused?.(error.code, error.message);
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
