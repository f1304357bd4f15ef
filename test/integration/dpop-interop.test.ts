/**
 * DPoP interop: access tokens a real IdP (oidc-provider with `features.dPoP` and server
 * nonces) binds to a client's key with `cnf.jkt`, checked by a verify-only gateway that
 * knows the IdP only through JWKS_URL. The token gets through with a proof for the
 * gateway's URL by the bound key, and nowhere else: not as a bearer token, not with another
 * key's proof, not with the proof the IdP itself accepted.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { challengeOf, type DpopKey, makeDpopKey, signProof } from "../support/dpop";
import { DPOP_AUDIENCE, DPOP_CLIENT_ID, type DpopIdp, type IssuedToken, startDpopIdp } from "../support/dpop-idp";
import { type Gateway, startGateway } from "../support/gateway";
import { decodeClaims } from "../support/tokens";

let idp: DpopIdp;
let gateway: Gateway;
let key: DpopKey;
let other: DpopKey;
let issued: IssuedToken;

beforeAll(async () => {
  [idp, key, other] = await Promise.all([startDpopIdp(), makeDpopKey("ES256"), makeDpopKey("ES256")]);
  [gateway, issued] = await Promise.all([
    startGateway({ vars: idp.gatewayVars(), omit: idp.gatewayOmits() }),
    idp.clientCredentialsToken(key),
  ]);
});
afterAll(async () => {
  await gateway?.close();
  await idp?.close();
});

const proofAt = (token: string, by: DpopKey, path = "/api/items") =>
  signProof(by, { htm: "GET", htu: `${gateway.url}${path}`, accessToken: token });

/** A refusal: 401 with a DPoP challenge naming one of `errors`, and nothing forwarded. */
async function expectRefused(send: () => Promise<Response>, errors: readonly string[]): Promise<void> {
  const before = gateway.upstream.received.length;
  const response = await send();
  const body = (await response.json().catch(() => ({}))) as { error?: string };
  const header = response.headers.get("www-authenticate");
  expect(response.status, `WWW-Authenticate: ${header}`).toBe(401);
  expect(errors).toContain(challengeOf(header, "DPoP")?.params.error);
  expect(errors).toContain(body.error);
  expect(gateway.upstream.received.length).toBe(before);
}

describe("DPoP-bound tokens of a real IdP, checked by a verify-only gateway (JWKS_URL)", () => {
  it("the IdP demands its nonce, then issues a DPoP token bound to the client's key", () => {
    expect(issued.attempts).toEqual([{ status: 400, error: "use_dpop_nonce" }, { status: 200 }]);
    expect(issued.tokenType).toBe("DPoP");
    const claims = decodeClaims(issued.accessToken);
    expect(claims).toMatchObject({
      iss: idp.issuer,
      aud: DPOP_AUDIENCE,
      sub: DPOP_CLIENT_ID,
      cnf: { jkt: key.thumbprint },
    });
    const header = JSON.parse(Buffer.from(issued.accessToken.split(".")[0] ?? "", "base64url").toString("utf8"));
    expect(header).toMatchObject({ typ: "at+jwt", alg: "ES256" });
  });

  it("is a verify-only gateway: it issues no tokens of its own", async () => {
    const response = await gateway.fetch("/auth/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "alice", password: "correct horse" }),
    });
    await response.body?.cancel();
    // No SIGNING_KEYS and no credential check: password login is off (configuration.md, PASSWORD_LOGIN).
    expect(response.status).toBe(404);
  });

  it("accepts the bound token with a proof for the gateway's URL and forwards it with the key's thumbprint", async () => {
    const proof = await proofAt(issued.accessToken, key);
    const response = await gateway.fetch("/api/items?from=idp", {
      headers: { authorization: `DPoP ${issued.accessToken}`, dpop: proof },
    });
    expect(response.status).toBe(200);
    const seen = gateway.upstream.proxied().at(-1);
    expect(seen?.url).toBe("/api/items?from=idp");
    expect(seen?.headers["x-auth-subject"]).toBe(DPOP_CLIENT_ID);
    expect(seen?.headers["x-auth-scopes"]).toBe("read write");
    expect(seen?.headers["x-auth-key-thumbprint"]).toBe(key.thumbprint);
    expect(seen?.headers.authorization).toBe(`DPoP ${issued.accessToken}`);
  });

  it("refuses the bound token as a bearer token", async () => {
    await expectRefused(
      () => gateway.fetch("/api/items", { headers: { authorization: `Bearer ${issued.accessToken}` } }),
      ["invalid_token"],
    );
  });

  it("refuses the bound token with another key's proof", async () => {
    const proof = await proofAt(issued.accessToken, other);
    await expectRefused(
      () => gateway.fetch("/api/items", { headers: { authorization: `DPoP ${issued.accessToken}`, dpop: proof } }),
      ["invalid_dpop_proof", "invalid_token"],
    );
  });

  it("refuses the bound token with no proof", async () => {
    await expectRefused(
      () => gateway.fetch("/api/items", { headers: { authorization: `DPoP ${issued.accessToken}` } }),
      ["invalid_dpop_proof", "invalid_token"],
    );
  });

  it("refuses the proof the IdP accepted at its token endpoint (another htm, htu and no ath)", async () => {
    await expectRefused(
      () =>
        gateway.fetch("/api/items", {
          headers: { authorization: `DPoP ${issued.accessToken}`, dpop: issued.proof },
        }),
      ["invalid_dpop_proof"],
    );
  });

  it("refuses a proof for the gateway presented a second time", async () => {
    const proof = await proofAt(issued.accessToken, key);
    const headers = { authorization: `DPoP ${issued.accessToken}`, dpop: proof };
    expect((await gateway.fetch("/api/items", { headers })).status).toBe(200);
    await expectRefused(() => gateway.fetch("/api/items", { headers }), ["invalid_dpop_proof"]);
  });

  it("accepts a token the IdP bound to an EdDSA key, with that key's proof", async () => {
    const edKey = await makeDpopKey("EdDSA");
    const token = await idp.clientCredentialsToken(edKey, "read");
    expect(decodeClaims(token.accessToken).cnf).toEqual({ jkt: edKey.thumbprint });
    const response = await gateway.fetch("/api/items", {
      headers: { authorization: `DPoP ${token.accessToken}`, dpop: await proofAt(token.accessToken, edKey) },
    });
    expect(response.status).toBe(200);
    expect(gateway.upstream.proxied().at(-1)?.headers["x-auth-key-thumbprint"]).toBe(edKey.thumbprint);
  });
});
