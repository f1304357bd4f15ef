/**
 * The client's reading of RFC 9470's challenge, against the gateway's own answer (the one
 * problem mapping builds it), and the login URL it builds from it.
 */
import { describe, expect, it } from "vitest";
import { stepUpChallenge, stepUpLoginUrl } from "../../../src/client/step-up";
import { GatewayError } from "../../../src/errors/gateway-error";
import { problemResponse } from "../../../src/errors/problem";

const answer = (stepUp: { maxAge?: number; acrValues?: string[] }) =>
  problemResponse(new GatewayError("insufficient_user_authentication", { stepUp }), {
    realm: "api",
    requestId: "r",
  });

describe("stepUpChallenge", () => {
  it("reads the gateway's challenge", () => {
    expect(stepUpChallenge(answer({ maxAge: 300, acrValues: ["urn:mfa", "urn:hwk"] }))).toEqual({
      maxAge: 300,
      acrValues: ["urn:mfa", "urn:hwk"],
    });
    expect(stepUpChallenge(answer({ maxAge: 0 }))).toEqual({ maxAge: 0 });
  });

  it("reads unquoted and escaped parameters, and ignores other challenges", () => {
    const headers = (value: string) => ({ get: () => value });
    expect(
      stepUpChallenge({ status: 401, headers: headers("Bearer error=insufficient_user_authentication, max_age=60") }),
    ).toEqual({ maxAge: 60 });
    expect(
      stepUpChallenge({
        status: 401,
        headers: headers('Bearer realm="a\\"b", error="insufficient_user_authentication", acr_values="x\\"y"'),
      }),
    ).toEqual({ acrValues: ['x"y'] });
    expect(stepUpChallenge({ status: 401, headers: headers('Bearer error="invalid_token"') })).toBeUndefined();
    expect(
      stepUpChallenge({ status: 403, headers: headers('Bearer error="insufficient_user_authentication"') }),
    ).toBeUndefined();
    expect(
      stepUpChallenge({ status: 401, headers: headers('Bearer error_description="insufficient_user_authentication"') }),
    ).toBeUndefined();
  });
});

describe("stepUpLoginUrl", () => {
  it("builds the gateway's login with what the challenge asked for", () => {
    const url = new URL(
      stepUpLoginUrl("https://api.example.com", { maxAge: 60, acrValues: ["urn:mfa"] }, "/billing?x=1"),
    );
    expect(url.origin + url.pathname).toBe("https://api.example.com/auth/oidc/login");
    expect(Object.fromEntries(url.searchParams)).toEqual({
      return_to: "/billing?x=1",
      max_age: "60",
      acr_values: "urn:mfa",
    });
  });
});
