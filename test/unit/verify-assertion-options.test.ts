import { createLocalJWKSet } from "jose";
import { describe, expect, it } from "vitest";
import { verifyAssertion } from "../../src/assertion";

const keys = createLocalJWKSet({ keys: [] });

describe("verifyAssertion's options, checked when the middleware is made", () => {
  it("needs an issuer, an audience, and one source of keys", () => {
    expect(() => verifyAssertion({ keys, issuer: "", audience: "a" })).toThrow(/issuer is required/);
    expect(() => verifyAssertion({ keys, issuer: "i", audience: "" })).toThrow(/audience is required/);
    expect(() => verifyAssertion({ issuer: "i", audience: "a" })).toThrow(/jwksUrl or keys/);
    expect(() =>
      verifyAssertion({ keys, jwksUrl: "https://gw.test/.well-known/jwks.json", issuer: "i", audience: "a" }),
    ).toThrow(/jwksUrl or keys/);
  });

  it('takes a pathPrefix that starts with "/" and does not end with one', () => {
    expect(() => verifyAssertion({ keys, issuer: "i", audience: "a", pathPrefix: "v1" })).toThrow(/pathPrefix/);
    expect(() => verifyAssertion({ keys, issuer: "i", audience: "a", pathPrefix: "/v1/" })).toThrow(/pathPrefix/);
    expect(typeof verifyAssertion({ keys, issuer: "i", audience: "a", pathPrefix: "/v1" })).toBe("function");
  });
});
