// A Node service's check of the gateway's signed assertion, with the installed package:
// plain Node, no bundler, no workerd. The consumer test runs it as
//   node node/check-assertion.mjs '<{ jwks, issuer, audience, assertion, method, target }>'
// and reads one JSON line: who the assertion names for that request, and the refusal's
// code for the same assertion on another path.
import { createLocalJWKSet } from "jose";
import { AssertionRefusedError, createAssertionChecker, verifyAssertion } from "portcullis/assertion";

const { jwks, issuer, audience, assertion, method, target } = JSON.parse(process.argv[2]);
const check = createAssertionChecker({ keys: createLocalJWKSet(jwks), issuer, audience });
const { sub, scopes } = await check(assertion, method, target);
let refused;
try {
  await check(assertion, method, `${target.split("?")[0]}/elsewhere`);
} catch (error) {
  refused = error instanceof AssertionRefusedError ? error.code : String(error);
}
const middleware = typeof verifyAssertion({ keys: createLocalJWKSet(jwks), issuer, audience });
console.log(JSON.stringify({ sub, scopes: [...scopes], refused, middleware }));
