/**
 * The pure parts of service clients: what the operator may ask (machines/service-client-input.ts),
 * the scope a client may be granted, and how the token endpoint reads a client's
 * credentials (auth/client-authentication.ts, RFC 6749 §2.3.1).
 */
import { describe, expect, it } from "vitest";
import { presentedClient } from "../../src/auth/client-authentication";
import { GatewayError } from "../../src/errors/gateway-error";
import { CLIENT_ASSERTION_TYPE, claimedClient } from "../../src/machines/client-assertion";
import { checkClientKey } from "../../src/machines/client-key";
import {
  checkNewClient,
  checkRotation,
  grantedScope,
  MAX_CLIENT_LIFETIME_SECONDS,
  MAX_OVERLAP_SECONDS,
} from "../../src/machines/service-client-input";

const basic = (text: string) => `Basic ${Buffer.from(text).toString("base64")}`;

function codeOf(work: () => unknown): string | undefined {
  try {
    work();
  } catch (error) {
    if (error instanceof GatewayError) return `${error.code}${error.basicChallenge ? " (Basic)" : ""}`;
    throw error;
  }
  return undefined;
}

describe("checkNewClient", () => {
  it("takes a name, scope tokens and an expiry, dropping repeated scopes", () => {
    expect(checkNewClient({ name: "ci", scopes: ["deploy", "read", "deploy"], expires_in: 60 })).toEqual({
      ok: true,
      value: { name: "ci", scopes: ["deploy", "read"], expiresInSeconds: 60 },
    });
    expect(checkNewClient({ name: "ci", scopes: [], expires_in: MAX_CLIENT_LIFETIME_SECONDS }).ok).toBe(true);
  });

  it.each([
    ["no body", null],
    ["a list", []],
    ["no expiry", { name: "ci", scopes: [] }],
    ["an expiry past the cap", { name: "ci", scopes: [], expires_in: MAX_CLIENT_LIFETIME_SECONDS + 1 }],
    ["a fractional expiry", { name: "ci", scopes: [], expires_in: 0.5 }],
    ["an expiry as a string", { name: "ci", scopes: [], expires_in: "60" }],
    ["scopes as a string", { name: "ci", scopes: "read write", expires_in: 60 }],
    ["a scope with a space", { name: "ci", scopes: ["read write"], expires_in: 60 }],
    ["a scope with a quote", { name: "ci", scopes: ['a"b'], expires_in: 60 }],
    ["an empty scope", { name: "ci", scopes: [""], expires_in: 60 }],
    ["a blank name", { name: "  ", scopes: [], expires_in: 60 }],
    ["a name with a newline", { name: "a\nb", scopes: [], expires_in: 60 }],
    ["a name too long", { name: "x".repeat(101), scopes: [], expires_in: 60 }],
    ["an unknown field", { name: "ci", scopes: [], expires_in: 60, client_secret: "mine" }],
  ])("refuses %s", (_what, body) => {
    expect(checkNewClient(body).ok).toBe(false);
  });
});

describe("checkRotation", () => {
  it("takes an overlap of 0 up to the cap, in whole seconds", () => {
    expect(checkRotation({ overlap_seconds: 0 })).toEqual({ ok: true, value: { overlapSeconds: 0 } });
    expect(checkRotation({ overlap_seconds: MAX_OVERLAP_SECONDS }).ok).toBe(true);
    for (const overlap of [-1, 1.5, "10", null, MAX_OVERLAP_SECONDS + 1]) {
      expect(checkRotation({ overlap_seconds: overlap }).ok, String(overlap)).toBe(false);
    }
    expect(checkRotation({}).ok).toBe(false);
    expect(checkRotation({ overlap_seconds: 1, revoke: true }).ok).toBe(false);
  });
});

describe("grantedScope", () => {
  const held = ["read", "write"];
  it("grants everything held when no scope is asked", () => {
    expect(grantedScope(undefined, held)).toEqual(held);
    expect(grantedScope("", held)).toEqual(held);
  });
  it("grants exactly the asked scopes it holds", () => {
    expect(grantedScope("write", held)).toEqual(["write"]);
    expect(grantedScope("write  read write", held)).toEqual(["write", "read"]);
  });
  it("refuses a scope it does not hold, or one that is no scope token", () => {
    expect(grantedScope("admin", held)).toBeUndefined();
    expect(grantedScope("read admin", held)).toBeUndefined();
    expect(grantedScope('re"ad', ['re"ad'])).toBeUndefined();
  });
});

describe("presentedClient", () => {
  it("reads client_secret_basic, form-urldecoding both halves (RFC 6749 §2.3.1)", () => {
    expect(presentedClient(basic("abc:s%3Acret+x"), {})).toEqual({
      method: "client_secret_basic",
      clientId: "abc",
      secret: "s:cret x",
    });
    expect(presentedClient(`basic  ${Buffer.from("abc:def").toString("base64")}`, { client_id: "abc" }).clientId).toBe(
      "abc",
    );
  });

  it("reads client_secret_post", () => {
    expect(presentedClient(null, { client_id: "abc", client_secret: "def" })).toEqual({
      method: "client_secret_post",
      clientId: "abc",
      secret: "def",
    });
  });

  it.each([
    ["no credentials", null, {}],
    ["an id without a secret", null, { client_id: "abc" }],
    ["a secret without an id", null, { client_secret: "def" }],
    ["Basic that is not base64", "Basic %%%", {}],
    ["Basic without a colon", basic("abc"), {}],
    ["Basic without an id", basic(":def"), {}],
    ["Basic with bad percent-encoding", basic("abc:%zz"), {}],
    ["Basic that is not UTF-8", `Basic ${Buffer.from([0x61, 0x3a, 0xff]).toString("base64")}`, {}],
    ["another scheme", "Bearer abc", {}],
    ["an assertion without its type", null, { client_assertion: "a.b.c" }],
    ["an assertion of another type", null, { client_assertion_type: "saml2", client_assertion: "a.b.c" }],
    ["an assertion that is no JWT", null, { client_assertion_type: CLIENT_ASSERTION_TYPE, client_assertion: "a.b.c" }],
    ["an id too long", basic(`${"a".repeat(600)}:x`), {}],
  ])("refuses %s: invalid_client with a Basic challenge", (_what, header, fields) => {
    expect(codeOf(() => presentedClient(header, fields))).toBe("client_invalid (Basic)");
  });

  it("refuses two methods at once, and a client_id beside Basic that differs: invalid_request", () => {
    expect(codeOf(() => presentedClient(basic("abc:def"), { client_secret: "def" }))).toBe("request_invalid");
    expect(codeOf(() => presentedClient(basic("abc:def"), { client_id: "xyz" }))).toBe("request_invalid");
  });
});

const B64_43 = "A".repeat(43);
const unsignedJwt = (claims: Record<string, unknown>) =>
  `${Buffer.from('{"alg":"ES256"}').toString("base64url")}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.sig`;

describe("private_key_jwt: reading the assertion", () => {
  it("takes the client from iss = sub, and only then", () => {
    expect(claimedClient(unsignedJwt({ iss: "abc", sub: "abc" }))).toBe("abc");
    expect(claimedClient(unsignedJwt({ iss: "abc", sub: "xyz" }))).toBeUndefined();
    expect(claimedClient(unsignedJwt({ sub: "abc" }))).toBeUndefined();
    expect(claimedClient("not a jwt")).toBeUndefined();
  });

  it("presents it as private_key_jwt, refusing a client_id that differs and a second method", () => {
    const assertion = unsignedJwt({ iss: "abc", sub: "abc" });
    const fields = { client_assertion_type: CLIENT_ASSERTION_TYPE, client_assertion: assertion };
    expect(presentedClient(null, fields)).toEqual({ method: "private_key_jwt", clientId: "abc", assertion });
    expect(presentedClient(null, { ...fields, client_id: "abc" }).clientId).toBe("abc");
    expect(codeOf(() => presentedClient(null, { ...fields, client_id: "xyz" }))).toBe("client_invalid (Basic)");
    expect(codeOf(() => presentedClient(basic("abc:def"), fields))).toBe("request_invalid");
    expect(codeOf(() => presentedClient(null, { ...fields, client_secret: "def" }))).toBe("request_invalid");
  });
});

describe("checkClientKey", () => {
  it("keeps the public members of a P-256, Ed25519 or RSA key and names its algorithm", () => {
    expect(checkClientKey({ kty: "EC", crv: "P-256", x: B64_43, y: B64_43, kid: "k1", use: "sig" })).toEqual({
      ok: true,
      value: { jwk: { kty: "EC", crv: "P-256", x: B64_43, y: B64_43 }, alg: "ES256" },
    });
    expect(checkClientKey({ kty: "OKP", crv: "Ed25519", x: B64_43, alg: "EdDSA" })).toEqual({
      ok: true,
      value: { jwk: { kty: "OKP", crv: "Ed25519", x: B64_43 }, alg: "EdDSA" },
    });
    const n = "B".repeat(342);
    expect(checkClientKey({ kty: "RSA", n, e: "AQAB", alg: "PS256" })).toEqual({
      ok: true,
      value: { jwk: { kty: "RSA", n, e: "AQAB" }, alg: "PS256" },
    });
  });

  it.each([
    ["a private EC key", { kty: "EC", crv: "P-256", x: B64_43, y: B64_43, d: B64_43 }],
    ["a symmetric key", { kty: "oct", k: B64_43 }],
    ["another curve", { kty: "EC", crv: "P-384", x: B64_43, y: B64_43 }],
    ["a key for encryption", { kty: "OKP", crv: "Ed25519", x: B64_43, use: "enc" }],
    ["an algorithm that does not fit", { kty: "EC", crv: "P-256", x: B64_43, y: B64_43, alg: "RS256" }],
    ["a short RSA key", { kty: "RSA", n: "B".repeat(171), e: "AQAB" }],
    ["a member that is not base64url", { kty: "OKP", crv: "Ed25519", x: `${"A".repeat(42)}=` }],
    ["no key at all", "key"],
  ])("refuses %s", (_what, jwk) => {
    expect(checkClientKey(jwk).ok).toBe(false);
  });
});
