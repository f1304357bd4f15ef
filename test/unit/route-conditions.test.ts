/**
 * Route conditions (src/policy/parse-condition.ts, check-condition.ts): every condition and
 * combinator, with missing and ill-typed facts, and what is refused at config time.
 */
import { describe, expect, it } from "vitest";
import { failedCondition, holds } from "../../src/policy/check-condition";
import { ConditionError, parseCondition } from "../../src/policy/parse-condition";
import type { ConditionFacts } from "../../src/policy/route-condition";

const FACTS: ConditionFacts = {
  claims: {
    sub: "alice",
    email: "Alice@Example.com",
    email_verified: true,
    groups: ["staff", "ops"],
    roles: ["clerk"],
    amr: ["pwd", "otp"],
    tenant: "acme",
    level: 3,
    mfa: true,
    org: { id: "acme", plan: { tier: "gold" } },
    "https://example.com/claims": { team: "blue" },
    nothing: null,
  },
  clientIp: "203.0.113.7",
  cf: { country: "DE", asn: 13335, tlsClientAuth: { certPresented: "1", certVerified: "SUCCESS" } },
};

function check(raw: unknown, facts: Partial<ConditionFacts> = {}): boolean {
  return holds(parseCondition(raw), { ...FACTS, ...facts });
}

function refusal(raw: unknown): string {
  try {
    parseCondition(raw);
  } catch (error) {
    if (error instanceof ConditionError) return error.message;
    throw error;
  }
  throw new Error("accepted");
}

describe("claim", () => {
  it("equals: a scalar claim, a nested path, an array holding the value; strictly typed", () => {
    expect(check({ claim: "tenant", equals: "acme" })).toBe(true);
    expect(check({ claim: "tenant", equals: "ACME" })).toBe(false);
    expect(check({ claim: "org.id", equals: "acme" })).toBe(true);
    expect(check({ claim: "org.plan.tier", equals: "gold" })).toBe(true);
    expect(check({ claim: "groups", equals: "ops" })).toBe(true);
    expect(check({ claim: "level", equals: 3 })).toBe(true);
    expect(check({ claim: "level", equals: "3" })).toBe(false);
    expect(check({ claim: "mfa", equals: true })).toBe(true);
    expect(check({ claim: "mfa", equals: "true" })).toBe(false);
  });

  it("a list path reaches a member whose name has dots", () => {
    expect(check({ claim: ["https://example.com/claims", "team"], equals: "blue" })).toBe(true);
  });

  it("any_of: a scalar in the list, or an array meeting it", () => {
    expect(check({ claim: "tenant", any_of: ["acme", "globex"] })).toBe(true);
    expect(check({ claim: "groups", any_of: ["admins", "ops"] })).toBe(true);
    expect(check({ claim: "groups", any_of: ["admins"] })).toBe(false);
  });

  it("all_of: an array holding every value", () => {
    expect(check({ claim: "amr", all_of: ["pwd", "otp"] })).toBe(true);
    expect(check({ claim: "amr", all_of: ["pwd", "hwk"] })).toBe(false);
    expect(check({ claim: "tenant", all_of: ["acme"] })).toBe(true);
  });

  it("exists: present and not null; false: absent", () => {
    expect(check({ claim: "tenant", exists: true })).toBe(true);
    expect(check({ claim: "org.id", exists: true })).toBe(true);
    expect(check({ claim: "missing", exists: true })).toBe(false);
    expect(check({ claim: "nothing", exists: true })).toBe(false);
    expect(check({ claim: "missing", exists: false })).toBe(true);
    expect(check({ claim: "tenant", exists: false })).toBe(false);
  });

  it("a missing claim, or a path through a non-object, holds nothing", () => {
    expect(check({ claim: "missing", equals: "x" })).toBe(false);
    expect(check({ claim: "missing", any_of: ["x"] })).toBe(false);
    expect(check({ claim: "tenant.id", equals: "acme" })).toBe(false);
    expect(check({ claim: "groups.0", equals: "staff" })).toBe(false);
  });

  it("a claim of the wrong type (an object, null) holds nothing", () => {
    expect(check({ claim: "org", equals: "acme" })).toBe(false);
    expect(check({ claim: "org", any_of: ["acme"] })).toBe(false);
    expect(check({ claim: "nothing", equals: "x" })).toBe(false);
    expect(check({ claim: "tenant", equals: "acme" }, { claims: { tenant: ["acme", { x: 1 }] } })).toBe(true);
    expect(check({ claim: "tenant", equals: "acme" }, { claims: { tenant: { 0: "acme" } } })).toBe(false);
  });

  it("never reads through a prototype: constructor, __proto__, toString", () => {
    expect(check({ claim: "constructor", exists: true })).toBe(false);
    expect(check({ claim: "org.constructor.name", equals: "Object" })).toBe(false);
    expect(check({ claim: "toString", exists: true })).toBe(false);
    expect(check({ claim: "__proto__", exists: true })).toBe(false);
  });
});

describe("email, email_domain, groups", () => {
  it("email: letter case ignored", () => {
    expect(check({ email: ["alice@example.com"] })).toBe(true);
    expect(check({ email: ["ALICE@EXAMPLE.COM"] })).toBe(true);
    expect(check({ email: ["bob@example.com"] })).toBe(false);
  });

  it("email and email_domain: only a verified email when the token says whether it is", () => {
    const unverified = { claims: { email: "alice@example.com", email_verified: false } };
    const stringly = { claims: { email: "alice@example.com", email_verified: "true" } };
    const silent = { claims: { email: "alice@example.com" } };
    expect(check({ email: ["alice@example.com"] }, unverified)).toBe(false);
    expect(check({ email_domain: ["example.com"] }, unverified)).toBe(false);
    expect(check({ email_domain: ["example.com"] }, stringly)).toBe(false);
    expect(check({ email_domain: ["example.com"] }, silent)).toBe(true);
  });

  it("email_domain: exactly the domain, never a subdomain or a lookalike", () => {
    expect(check({ email_domain: ["example.com"] })).toBe(true);
    expect(check({ email_domain: ["EXAMPLE.com"] })).toBe(true);
    const at = (email: string) => ({ claims: { email } });
    expect(check({ email_domain: ["example.com"] }, at("a@evil.example.com"))).toBe(false);
    expect(check({ email_domain: ["example.com"] }, at("a@example.com.evil.net"))).toBe(false);
    expect(check({ email_domain: ["example.com"] }, at("a@notexample.com"))).toBe(false);
    expect(check({ email_domain: ["example.com"] }, at("example.com"))).toBe(false);
    expect(check({ email_domain: ["example.com"] }, at("a@example.com@evil.net"))).toBe(false);
    expect(check({ email_domain: ["example.com"] }, { claims: { email: ["a@example.com"] } })).toBe(false);
    expect(check({ email_domain: ["example.com"] }, { claims: {} })).toBe(false);
  });

  it("groups: the token's groups; without a groups claim, its roles", () => {
    expect(check({ groups: ["admins", "ops"] })).toBe(true);
    expect(check({ groups: ["clerk"] })).toBe(false);
    expect(check({ groups: ["clerk"] }, { claims: { roles: ["clerk"] } })).toBe(true);
    expect(check({ groups: ["ops"] }, { claims: { groups: "ops" } })).toBe(true);
    expect(check({ groups: ["ops"] }, { claims: { groups: { ops: true } } })).toBe(false);
    expect(check({ groups: ["ops"] }, { claims: {} })).toBe(false);
  });
});

describe("where the request comes from", () => {
  it("ip: IPv4, IPv6 and IPv4-mapped IPv6 client addresses", () => {
    const ip = { ip: ["203.0.113.0/24", "2001:db8::/32"] };
    expect(check(ip)).toBe(true);
    expect(check(ip, { clientIp: "::ffff:203.0.113.9" })).toBe(true);
    expect(check(ip, { clientIp: "2001:db8::42" })).toBe(true);
    expect(check(ip, { clientIp: "198.51.100.1" })).toBe(false);
    expect(check(ip, { clientIp: "2001:db9::1" })).toBe(false);
  });

  it("ip: no client address, or one that does not parse, is outside every range", () => {
    expect(check({ ip: ["0.0.0.0/0", "::/0"] }, { clientIp: undefined })).toBe(false);
    expect(check({ ip: ["0.0.0.0/0", "::/0"] }, { clientIp: "203.0.113.7, 10.0.0.1" })).toBe(false);
    expect(check({ ip: ["0.0.0.0/0"] }, { clientIp: "localhost" })).toBe(false);
  });

  it("country and asn from request.cf; none without request.cf or with the wrong type", () => {
    expect(check({ country: ["DE", "FR"] })).toBe(true);
    expect(check({ country: ["FR"] })).toBe(false);
    expect(check({ asn: [13335] })).toBe(true);
    expect(check({ asn: [15169] })).toBe(false);
    expect(check({ country: ["DE"] }, { cf: undefined })).toBe(false);
    expect(check({ asn: [13335] }, { cf: { asn: "13335" } })).toBe(false);
    expect(check({ country: ["DE"] }, { cf: { country: "de" } })).toBe(false);
  });

  it("client_certificate: only a certificate the platform verified", () => {
    const cert = { client_certificate: "verified" };
    expect(check(cert)).toBe(true);
    expect(check(cert, { cf: { tlsClientAuth: { certPresented: "1", certVerified: "FAILED:self signed" } } })).toBe(
      false,
    );
    expect(check(cert, { cf: { tlsClientAuth: { certPresented: "0", certVerified: "NONE" } } })).toBe(false);
    expect(check(cert, { cf: {} })).toBe(false);
    expect(check(cert, { cf: undefined })).toBe(false);
  });
});

describe("combinators", () => {
  const yes = { claim: "tenant", equals: "acme" };
  const no = { claim: "tenant", equals: "globex" };

  it("all, any, not", () => {
    expect(check({ all: [yes, yes] })).toBe(true);
    expect(check({ all: [yes, no] })).toBe(false);
    expect(check({ any: [no, yes] })).toBe(true);
    expect(check({ any: [no, no] })).toBe(false);
    expect(check({ not: no })).toBe(true);
    expect(check({ not: yes })).toBe(false);
    expect(check({ all: [{ any: [no, { not: no }] }, { not: { all: [yes, no] } }] })).toBe(true);
  });

  it("not of a missing fact holds: a deny-list needs the fact to bite (docs/policy.md)", () => {
    expect(check({ not: { country: ["KP"] } }, { cf: undefined })).toBe(true);
  });

  it("names the failing member of all, and the combinator itself for any and not", () => {
    const facts = { ...FACTS, clientIp: "198.51.100.1" };
    const all = parseCondition({ all: [yes, { ip: ["203.0.113.0/24"] }, no] });
    expect(failedCondition([all], facts)).toMatchObject({
      condition: { text: "ip in [203.0.113.0/24]" },
      code: "access_denied",
    });
    const any = parseCondition({ any: [no, { country: ["FR"] }] });
    expect(failedCondition([any], FACTS)).toMatchObject({
      condition: { text: 'any(claim tenant equals "globex"; country in [FR])' },
      code: "insufficient_scope",
    });
    expect(failedCondition([parseCondition({ not: yes })], FACTS)?.condition.text).toBe(
      'not(claim tenant equals "acme")',
    );
    expect(failedCondition([parseCondition(yes), parseCondition(no)], FACTS)?.condition.text).toBe(
      'claim tenant equals "globex"',
    );
    expect(failedCondition([parseCondition(yes)], FACTS)).toBeUndefined();
  });

  it("codes a refusal access_denied only when the failed condition reads the request alone", () => {
    const code = (raw: unknown) => failedCondition([parseCondition(raw)], { ...FACTS, cf: undefined })?.code;
    expect(code({ country: ["DE"] })).toBe("access_denied");
    expect(code({ any: [{ country: ["DE"] }, { asn: [1] }] })).toBe("access_denied");
    expect(code({ email: ["bob@example.com"] })).toBe("insufficient_scope");
    expect(code({ any: [{ country: ["DE"] }, no] })).toBe("insufficient_scope");
  });

  it("nests at most four deep", () => {
    const nest = (depth: number): unknown => (depth === 0 ? yes : { all: [nest(depth - 1)] });
    expect(check(nest(4))).toBe(true);
    expect(refusal(nest(5))).toBe("require.all[0].all[0].all[0].all[0].all: all / any / not nest at most 4 deep");
    expect(refusal({ not: { not: { not: { not: { not: yes } } } } })).toContain("nest at most 4 deep");
  });
});

describe("refused at config time", () => {
  it.each([
    [[], "require must be a condition object"],
    [{}, 'require must have exactly one of "claim", "email"'],
    [{ email: ["a@x.com"], ip: ["10.0.0.0/8"] }, "(it has email, ip)"],
    [{ emial: ["a@x.com"] }, 'require has "emial"; did you mean "email"?'],
    [{ claim: "org.id" }, 'require needs exactly one of "equals", "any_of", "all_of", "exists" with "claim"'],
    [{ claim: "org.id", equals: "a", exists: true }, "needs exactly one of"],
    [{ claim: "org..id", equals: "a" }, "require.claim must be a dotted claim path"],
    [{ claim: "", equals: "a" }, "require.claim must be a dotted claim path"],
    [
      { claim: "https://example.com/roles", any_of: ["a"] },
      'require.claim: "https://example.com/roles" would be split at its dots; give it as a list: ["https://example.com/roles"]',
    ],
    [{ claim: [], equals: "a" }, "require.claim must be a dotted claim path"],
    [{ claim: "org", equals: { id: "a" } }, "require.equals must be a string, number or boolean"],
    [{ claim: "org", equals: null }, "require.equals must be a string, number or boolean"],
    [{ claim: "org", any_of: [] }, "require.any_of must be a non-empty list"],
    [{ claim: "org", all_of: "a" }, "require.all_of must be a non-empty list"],
    [{ claim: "org", exists: "yes" }, "require.exists must be true or false"],
    [{ email: "a@x.com" }, "require.email must be a non-empty list of email addresses"],
    [{ email: ["not an email"] }, "require.email must be a non-empty list of email addresses"],
    [{ email_domain: ["@example.com"] }, "require.email_domain must be a non-empty list of domain names"],
    [{ email_domain: ["com"] }, "require.email_domain must be a non-empty list of domain names"],
    [{ groups: [] }, "require.groups must be a non-empty list"],
    [{ ip: ["10.0.0.1/8"] }, 'require.ip: "10.0.0.1/8" has bits set after its /8 prefix'],
    [{ ip: ["10.0.0.0/40"] }, 'require.ip: "10.0.0.0/40" has a prefix length that is not 0 to 32'],
    [{ ip: ["fe80::1%eth0"] }, "is not an IPv4 or IPv6 address or range"],
    [{ ip: [] }, "require.ip must be a non-empty list of CIDR ranges"],
    [{ country: ["de"] }, "require.country must be a non-empty list of upper-case two-letter country codes"],
    [{ country: ["DEU"] }, "upper-case two-letter country codes"],
    [{ asn: ["13335"] }, "require.asn must be a non-empty list of AS numbers"],
    [{ asn: [-1] }, "require.asn must be a non-empty list of AS numbers"],
    [{ client_certificate: true }, 'require.client_certificate can only be "verified"'],
    [{ all: [] }, "require.all must be a non-empty list of conditions"],
    [{ any: { email: ["a@x.com"] } }, "require.any must be a non-empty list of conditions"],
    [{ not: [{ email: ["a@x.com"] }] }, "require.not must be a condition object"],
    [{ all: [{ ip: ["10.0.0.0/8"] }, { ip: ["1.2.3.4/8"] }] }, 'require.all[1].ip: "1.2.3.4/8" has bits set'],
    [{ email: ["a@x.com"], equals: "x" }, 'require: "equals" goes with "claim"'],
  ])("%j", (raw, message) => {
    expect(refusal(raw)).toContain(message);
  });
});
