/**
 * What judging a route's conditions costs per request (docs/policy.md): the benchmark's
 * five-condition rule (bench/bench-gateway.ts) on a token's payload, the client address and
 * `request.cf`, all holding (every condition is judged), and an ip list of 100 ranges.
 */
import { bench, describe } from "vitest";
import { failedCondition } from "../../src/policy/check-condition";
import { parseCondition } from "../../src/policy/parse-condition";
import type { ConditionFacts } from "../../src/policy/route-condition";

const FIVE = [
  parseCondition({
    all: [
      { claim: "sub", exists: true },
      { claim: "scope", any_of: ["read write", "admin"] },
      { claim: "iss", equals: "https://gateway.test" },
      { ip: ["127.0.0.0/8", "::1"] },
      { not: { country: ["KP"] } },
    ],
  }),
];
const MANY_RANGES = [
  parseCondition({ ip: Array.from({ length: 100 }, (_, index) => `10.${index}.0.0/16`).concat("203.0.113.0/24") }),
];
const FACTS: ConditionFacts = {
  claims: { iss: "https://gateway.test", sub: "user-1", scope: "read write", sid: "s", iat: 1, exp: 2 },
  clientIp: "127.0.0.1",
  cf: { country: "DE", asn: 13335 },
};

describe("route conditions", () => {
  bench("five conditions, all holding", () => {
    if (failedCondition(FIVE, FACTS) !== undefined) throw new Error("failed");
  });
  bench("an IPv6 client against 101 IPv4 ranges (none holds)", () => {
    failedCondition(MANY_RANGES, { ...FACTS, clientIp: "2001:db8::1" });
  });
});
