/**
 * `portcullis/assertion`: for the UPSTREAM behind the standalone gateway with
 * UPSTREAM_ASSERTION on, the check of the `Portcullis-Assertion` it signs
 * (docs/upstream-assertion.md). It depends on jose alone (Hono only for the middleware's
 * types), so it loads in Node, Bun, Deno and Workers; `portcullis/hono` re-exports it.
 *
 * @example
 * import { createAssertionChecker } from "portcullis/assertion";   // any framework
 * import { verifyAssertion } from "portcullis/assertion";          // Hono middleware
 */
export type {
  AssertedIdentity,
  AssertionChecker,
  AssertionCheckOptions,
  AssertionRefusal,
} from "./check-assertion";
export { AssertionRefusedError, createAssertionChecker } from "./check-assertion";
export type { AssertionVariables, VerifyAssertionOptions } from "./verify-assertion";
export { verifyAssertion } from "./verify-assertion";
