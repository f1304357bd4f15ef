/**
 * The OIDC test harness itself, driven directly with oauth4webapi (no gateway): the IdP issues
 * codes only with PKCE, issues and rotates refresh tokens, counts grants, revokes a user's grants,
 * goes down and comes back, and posts back-channel logout to a receiver on 127.0.0.1. The gateway's
 * OIDC tests rely on each of these, so each is proven here first.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { createRemoteJWKSet, decodeJwt, jwtVerify } from "jose";
import * as oauth from "oauth4webapi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BACKCHANNEL_PATH, CALLBACK_PATH, startIdp, type TestIdp } from "../support/oidc-idp";
import { idpHops, logoutAtIdp, newJar } from "../support/oidc-login";

interface Receiver {
  readonly url: string;
  readonly logoutTokens: string[];
  close(): Promise<void>;
}

/** Stands in for the gateway's back-channel logout endpoint: records each logout_token. */
async function startReceiver(): Promise<Receiver> {
  const logoutTokens: string[] = [];
  const server = http.createServer((request, response) => {
    let body = "";
    request.setEncoding("utf8");
    request.on("error", () => response.destroy());
    request.on("data", (chunk: string) => {
      body += chunk;
    });
    request.on("end", () => {
      if (request.method === "POST" && request.url === BACKCHANNEL_PATH)
        logoutTokens.push(new URLSearchParams(body).get("logout_token") ?? "");
      response.writeHead(200, { "cache-control": "no-store" }).end();
    });
  });
  server.on("error", () => {});
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    logoutTokens,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let idp: TestIdp;
let receiver: Receiver;
let as: oauth.AuthorizationServer;
let client: oauth.Client;
let auth: oauth.ClientAuth;
const insecure = { [oauth.allowInsecureRequests]: true };

beforeAll(async () => {
  idp = await startIdp({ accounts: { admin: { groups: ["admin"] } } });
  receiver = await startReceiver();
  await idp.registerGateway(receiver.url);
  const issuer = new URL(idp.issuer);
  as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
  client = { client_id: idp.clientId };
  auth = oauth.ClientSecretBasic(idp.clientSecret);
});

afterAll(async () => {
  await idp?.close();
  await receiver?.close();
});

/** An authorization-code + PKCE login as `login`, the way the gateway will do it. */
async function codeLogin(login: string, { pkce = true } = {}) {
  const jar = newJar();
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  const redirectUri = `${receiver.url}${CALLBACK_PATH}`;
  const url = new URL(as.authorization_endpoint ?? "");
  url.search = new URLSearchParams({
    client_id: idp.clientId,
    response_type: "code",
    redirect_uri: redirectUri,
    scope: "openid profile email offline_access",
    prompt: "consent",
    state,
    nonce,
    ...(pkce
      ? { code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: "S256" }
      : {}),
  }).toString();
  const callback = await idpHops(url, jar, login);
  const params = oauth.validateAuthResponse(as, client, callback, state);
  const response = await oauth.authorizationCodeGrantRequest(as, client, auth, params, redirectUri, verifier, insecure);
  const tokens = await oauth.processAuthorizationCodeResponse(as, client, response, { expectedNonce: nonce });
  const claims = oauth.getValidatedIdTokenClaims(tokens);
  if (claims === undefined) throw new Error("no ID token");
  return { jar, tokens, claims };
}

function refresh(refreshToken: string) {
  return oauth.refreshTokenGrantRequest(as, client, auth, refreshToken, insecure);
}

describe("the test IdP", () => {
  it("issues tokens through authorization code + PKCE, with a refresh token and an ID token carrying sid and groups", async () => {
    const before = idp.countTokenRequests("authorization_code", "ok");
    const { tokens, claims } = await codeLogin("admin");
    expect(tokens.refresh_token).toEqual(expect.any(String));
    expect(tokens.access_token).toEqual(expect.any(String));
    expect(claims).toMatchObject({ sub: "admin", aud: idp.clientId, iss: idp.issuer, groups: ["admin"] });
    expect(claims.sid).toEqual(expect.any(String));
    expect(idp.countTokenRequests("authorization_code", "ok")).toBe(before + 1);
    // The ID token is signed with the key the IdP publishes.
    const jwks = createRemoteJWKSet(new URL(as.jwks_uri ?? ""));
    await expect(
      jwtVerify(tokens.id_token ?? "", jwks, { issuer: idp.issuer, audience: idp.clientId }),
    ).resolves.toBeDefined();
  });

  it("refuses an authorization request without PKCE", async () => {
    await expect(codeLogin("alice", { pkce: false })).rejects.toMatchObject({
      error: "invalid_request",
      error_description: expect.stringMatching(/PKCE/),
    });
  });

  it("rotates refresh tokens, counts each refresh grant, and kills the grant when an old one is reused", async () => {
    const { tokens } = await codeLogin("alice");
    const okBefore = idp.countTokenRequests("refresh_token", "ok");
    const first = await oauth.processRefreshTokenResponse(as, client, await refresh(tokens.refresh_token ?? ""));
    expect(first.refresh_token).toEqual(expect.any(String));
    expect(first.refresh_token).not.toBe(tokens.refresh_token);
    expect(idp.countTokenRequests("refresh_token", "ok")).toBe(okBefore + 1);

    const errorsBefore = idp.countTokenRequests("refresh_token", "error");
    const reused = await refresh(tokens.refresh_token ?? "");
    expect(reused.status).toBe(400);
    expect(await reused.json()).toMatchObject({ error: "invalid_grant" });
    expect(idp.countTokenRequests("refresh_token", "error")).toBe(errorsBefore + 1);
    expect(idp.tokenRequests.at(-1)).toMatchObject({ grantType: "refresh_token", status: 400, error: "invalid_grant" });
    // Reuse revoked the whole grant: even the newest refresh token is dead now.
    expect((await refresh(first.refresh_token ?? "")).status).toBe(400);
  });

  it("issues access tokens with the TTL a test sets", async () => {
    idp.accessTokenTtl = 2;
    try {
      const { tokens } = await codeLogin("alice");
      expect(tokens.expires_in).toBe(2);
    } finally {
      idp.accessTokenTtl = 3600;
    }
  });

  it("revokes a user's grants so that the next refresh is invalid_grant", async () => {
    const { tokens } = await codeLogin("carol");
    expect(await idp.revokeGrants("carol")).toBeGreaterThanOrEqual(1);
    const response = await refresh(tokens.refresh_token ?? "");
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: "invalid_grant" });
  });

  it("goes down (refused, then 503) and comes back with its state", async () => {
    const { tokens } = await codeLogin("dave");
    await idp.down("refused");
    await expect(refresh(tokens.refresh_token ?? "")).rejects.toThrow();
    await idp.up();
    await idp.down("503");
    expect((await refresh(tokens.refresh_token ?? "")).status).toBe(503);
    await idp.up();
    const after = await oauth.processRefreshTokenResponse(as, client, await refresh(tokens.refresh_token ?? ""));
    expect(after.access_token).toEqual(expect.any(String));
  });

  it("posts a valid back-channel logout token for the session when the user signs out at the IdP", async () => {
    const { jar, claims } = await codeLogin("erin");
    const before = receiver.logoutTokens.length;
    await logoutAtIdp(idp, jar);
    expect(idp.backchannel.at(-1)).toMatchObject({ ok: true, sub: "erin", sid: claims.sid });
    expect(receiver.logoutTokens).toHaveLength(before + 1);
    const jwks = createRemoteJWKSet(new URL(as.jwks_uri ?? ""));
    const { payload, protectedHeader } = await jwtVerify(receiver.logoutTokens.at(-1) ?? "", jwks, {
      issuer: idp.issuer,
      audience: idp.clientId,
    });
    expect(protectedHeader.typ).toBe("logout+jwt");
    expect(payload).toMatchObject({ sub: "erin", sid: claims.sid });
    expect(payload.events).toEqual({ "http://schemas.openid.net/event/backchannel-logout": {} });
    expect(payload.nonce).toBeUndefined();
  });

  it("ends a user's IdP sessions programmatically, posting back-channel logout", async () => {
    const { claims } = await codeLogin("frank");
    expect(idp.sids("frank")).toEqual([claims.sid]);
    const results = await idp.endSessions("frank");
    expect(idp.sids("frank")).toEqual([]);
    expect(results).toEqual([expect.objectContaining({ ok: true, sub: "frank", sid: claims.sid })]);
    expect(decodeJwt(receiver.logoutTokens.at(-1) ?? "")).toMatchObject({ sub: "frank", sid: claims.sid });
  });

  it("signs tokens with its own key for tests of forged tokens", async () => {
    const token = await idp.sign({ sub: "x", aud: "another-client" });
    const jwks = createRemoteJWKSet(new URL(as.jwks_uri ?? ""));
    const { payload } = await jwtVerify(token, jwks, { issuer: idp.issuer });
    expect(payload.aud).toBe("another-client");
  });
});
