// A Hono service behind the standalone gateway, checking its signed assertion with
// portcullis/assertion (which also loads in Node, Bun and Deno). The consumer test
// type-checks this file against the installed declarations; node/check-assertion.mjs runs
// the same entry in plain Node.
import { Hono } from "hono";
import { type AssertionVariables, createAssertionChecker, verifyAssertion } from "portcullis/assertion";

const gateway = { jwksUrl: "https://gateway.example.com/.well-known/jwks.json", issuer: "https://gateway.example.com" };

export const upstream = new Hono<{ Variables: AssertionVariables }>();
upstream.use("/billing/*", verifyAssertion({ ...gateway, audience: "https://billing.internal" }));
upstream.get("/billing/me", (c) => c.json({ sub: c.var.assertion.sub, scopes: [...c.var.assertion.scopes] }));

/** Any other framework: the request's method, request-target and header. */
export const checkAssertion = createAssertionChecker({ ...gateway, audience: "https://orders.internal" });
export async function callerOf(request: Request): Promise<string> {
  const url = new URL(request.url);
  return (await checkAssertion(request.headers.get("portcullis-assertion"), request.method, url.pathname)).sub;
}
