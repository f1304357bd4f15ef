/**
 * The DPoP proof check on its own (src/dpop/dpop-proof.ts): whatever a client sends, it
 * either passes or is refused with a DpopRefusal (which the gateway answers 400/401),
 * never another error (which would be a 500). The attack corpus through the bundled
 * gateway is test/integration/dpop-attacks.test.ts.
 */
import fc from "fast-check";
import { base64url } from "jose";
import { describe, expect, it } from "vitest";
import { DpopRefusal, type ProofExpectation, verifyProof } from "../../src/dpop/dpop-proof";
import { claimJti } from "../../src/dpop/replay-cache";
import { makeDpopKey, signProof } from "../support/dpop";

const URI = "https://api.example/api/items";
const expectation = (): ProofExpectation => ({
  method: "GET",
  uri: URI,
  accessToken: "a.b.c",
  now: Date.now(),
  maxAgeSeconds: 60,
  clockToleranceSeconds: 5,
  claimJti: (jkt, jti, until) => claimJti(jkt, jti, until),
});
const b64 = (text: string) => base64url.encode(text);

async function refusalOf(proof: string): Promise<string> {
  try {
    await verifyProof(proof, expectation());
  } catch (error) {
    expect(error).toBeInstanceOf(DpopRefusal);
    return (error as DpopRefusal).reason;
  }
  throw new Error("the proof passed");
}

describe("verifyProof", () => {
  it("passes a well-made proof once, and refuses it the second time", async () => {
    const key = await makeDpopKey("ES256");
    const proof = await signProof(key, { htm: "GET", htu: URI, accessToken: "a.b.c" });
    expect((await verifyProof(proof, expectation())).jkt).toBe(key.thumbprint);
    expect(await refusalOf(proof)).toBe("jti replayed");
  });

  it("refuses segments that do not decode, a signature of the wrong length and an RSA modulus that is not base64url", async () => {
    const key = await makeDpopKey("ES256");
    const proof = await signProof(key, { htm: "GET", htu: URI, accessToken: "a.b.c" });
    const [header = "", payload = "", signature = ""] = proof.split(".");
    expect(await refusalOf(`${header}.${payload}.${signature.slice(0, 5)}`)).toMatch(/signature/);
    expect(await refusalOf(`${header}.${payload}.A`)).toMatch(/signature/);
    expect(await refusalOf(`${header}.A.${signature}`)).toMatch(/signature|claims/);
    const rsa = b64(JSON.stringify({ typ: "dpop+jwt", alg: "RS256", jwk: { kty: "RSA", n: "A", e: "AQAB" } }));
    expect(await refusalOf(`${rsa}.${payload}.${signature}`)).toMatch(/jwk n|RSA/);
  });

  it("refuses anything a client can make up with a DpopRefusal, never another error", async () => {
    const segment = fc.stringMatching(/^[A-Za-z0-9_-]{1,60}$/);
    const header = fc.oneof(
      segment,
      fc.jsonValue().map((value) => b64(JSON.stringify(value))),
      fc
        .record({
          typ: fc.constantFrom("dpop+jwt", "JWT"),
          alg: fc.constantFrom("ES256", "EdDSA", "RS256", "PS256", "HS256", "none"),
          jwk: fc.dictionary(fc.constantFrom("kty", "crv", "x", "y", "n", "e", "d", "k"), fc.string()),
        })
        .map((value) => b64(JSON.stringify(value))),
    );
    await fc.assert(
      fc.asyncProperty(header, segment, segment, async (h, p, s) => {
        await refusalOf(`${h}.${p}.${s}`);
      }),
      { numRuns: 300 },
    );
  });
});
