/**
 * UPSTREAM_ASSERTION (docs/upstream-assertion.md): every request forwarded on a protected
 * route carries a `Portcullis-Assertion` the upstream can verify against the gateway's
 * JWKS; `verifyAssertion()` of portcullis/hono, running in a real Hono upstream on
 * 127.0.0.1 behind the bundled gateway, accepts it and refuses it on any other request,
 * audience, time or key; a client's own assertion never reaches the upstream.
 */
import http from "node:http";
import { getRequestListener } from "@hono/node-server";
import { Hono } from "hono";
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, type JWTPayload, jwtVerify, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// portcullis/assertion's source, which runs in plain Node (portcullis/hono also exports the Durable Objects, which need workerd).
import { type AssertionRefusal, type AssertionVariables, verifyAssertion } from "../../src/assertion";
import { requestHash } from "../../src/tokens/upstream-assertion";
import { sendRaw } from "../support/differential/raw-request";
import { makeDpopKey, signProof } from "../support/dpop";
import { type Gateway, ISSUER, startGateway } from "../support/gateway";
import { login } from "../support/session-helpers";
import { makeKey } from "../support/test-keys";
import { mintToken } from "../support/tokens";

let gateway: Gateway;
/** The same upstream behind UPSTREAM_URL with a base path ("/base"). */
let based: Gateway;
let audience: string;
let bearer: { authorization: string };
const refusals: AssertionRefusal[] = [];

/** A Hono upstream guarded by verifyAssertion, answering who the assertion says is calling. */
function honoUpstream(options: { audience?: string; now?: () => number; pathPrefix?: string } = {}) {
  const app = new Hono<{ Variables: AssertionVariables }>();
  app.use(
    "*",
    verifyAssertion({
      jwksUrl: `${gateway.url}/.well-known/jwks.json`,
      issuer: ISSUER,
      audience: options.audience ?? audience,
      ...(options.now ? { now: options.now } : {}),
      ...(options.pathPrefix ? { pathPrefix: options.pathPrefix } : {}),
      onRefused: (reason) => refusals.push(reason),
    }),
  );
  app.all("*", (c) => {
    const { sub, sid, scopes, roles, jkt } = c.var.assertion;
    return c.json({ sub, sid, scopes: [...scopes], roles: [...roles], jkt, path: new URL(c.req.url).pathname });
  });
  return app;
}

const lastAssertion = () => gateway.upstream.proxied().at(-1)?.headers["portcullis-assertion"] as string | undefined;

beforeAll(async () => {
  gateway = await startGateway({ vars: { UPSTREAM_ASSERTION: "true", UPSTREAM_ASSERTION_CLAIMS: '["email"]' } });
  audience = new URL(gateway.upstream.url).origin;
  based = await startGateway({
    upstream: gateway.upstream,
    key: gateway.key,
    vars: { UPSTREAM_ASSERTION: "true", UPSTREAM_URL: `${gateway.upstream.url}/base` },
  });
  bearer = { authorization: `Bearer ${(await login(gateway)).accessToken}` };
  gateway.upstream.route("/hono/*", getRequestListener(honoUpstream().fetch));
  gateway.upstream.route("/base/*", getRequestListener(honoUpstream().fetch));
  gateway.upstream.route(
    "/other-audience/*",
    getRequestListener(honoUpstream({ audience: "https://elsewhere.test" }).fetch),
  );
  gateway.upstream.route("/late/*", getRequestListener(honoUpstream({ now: () => Date.now() + 120_000 }).fetch));
  gateway.upstream.route("/echo-assertion", (request, response) => {
    // An upstream that sends the assertion back: the gateway must not pass it on.
    response.writeHead(200, { "portcullis-assertion": String(request.headers["portcullis-assertion"]) }).end("ok");
  });
});
afterAll(async () => {
  await based?.close();
  await gateway?.close();
});

describe("the assertion the upstream receives", () => {
  it("verifies with jose against the gateway's JWKS and states who, for which request", async () => {
    const response = await gateway.fetch("/api/orders/7?x=1", { headers: bearer });
    expect(response.status).toBe(200);
    const assertion = lastAssertion() as string;
    const keys = createRemoteJWKSet(new URL(`${gateway.url}/.well-known/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(assertion, keys, {
      issuer: ISSUER,
      audience,
      typ: "portcullis-assertion+jwt",
    });
    expect(protectedHeader).toMatchObject({ alg: "EdDSA", kid: gateway.key.privateJwk.kid });
    expect(payload).toMatchObject({
      sub: "user-alice",
      scope: "read write",
      roles: ["member"],
      htm: "GET",
      req: await requestHash("GET", "/api/orders/7"),
    });
    expect(typeof payload.sid).toBe("string");
    expect((payload.exp as number) - (payload.iat as number)).toBe(60);
    expect(typeof payload.jti).toBe("string");
    expect(payload.cnf).toBeUndefined();
  });

  it("is reused for the same token and request for a few seconds, and made anew for another", async () => {
    await gateway.fetch("/api/a", { headers: bearer });
    const first = lastAssertion() as string;
    await gateway.fetch("/api/a", { headers: bearer });
    expect(lastAssertion()).toBe(first);
    await gateway.fetch("/api/b", { headers: bearer });
    expect(decodeJwt(lastAssertion() as string).jti).not.toBe(decodeJwt(first).jti);
    await gateway.fetch("/api/a", { method: "DELETE", headers: bearer });
    expect(decodeJwt(lastAssertion() as string).htm).toBe("DELETE");
  });

  it("carries the DPoP key's thumbprint for a DPoP-bound token", async () => {
    const key = await makeDpopKey("ES256");
    const token = await mintToken(gateway.key, { claims: { cnf: { jkt: key.thumbprint } } as never });
    const proof = await signProof(key, { htm: "GET", htu: `${gateway.url}/api/bound`, accessToken: token });
    const response = await gateway.fetch("/api/bound", { headers: { authorization: `DPoP ${token}`, dpop: proof } });
    expect(response.status).toBe(200);
    expect(decodeJwt(lastAssertion() as string).cnf).toEqual({ jkt: key.thumbprint });
  });

  it("copies the claims UPSTREAM_ASSERTION_CLAIMS names, and no others", async () => {
    const token = await mintToken(gateway.key, { claims: { email: "alice@example.com", phone: "+1 555" } });
    expect((await gateway.fetch("/api/claims", { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    const payload = decodeJwt(lastAssertion() as string);
    expect(payload.email).toBe("alice@example.com");
    expect(payload).not.toHaveProperty("phone");
  });

  it("is not made for a public route", async () => {
    expect((await gateway.fetch("/public/hello", { headers: bearer })).status).toBe(200);
    expect(gateway.upstream.proxied().at(-1)?.headers["portcullis-assertion"]).toBeUndefined();
  });

  it("binds the path the upstream receives, UPSTREAM_URL's base path included", async () => {
    await based.fetch("/api/x", { headers: bearer });
    const seen = gateway.upstream.proxied().at(-1);
    expect(seen?.url).toBe("/base/api/x");
    expect(decodeJwt(seen?.headers["portcullis-assertion"] as string).req).toBe(
      await requestHash("GET", "/base/api/x"),
    );
    expect(decodeJwt(seen?.headers["portcullis-assertion"] as string).aud).toBe(audience);
  });
});

describe("verifyAssertion in a Hono upstream behind the gateway", () => {
  it("accepts the gateway's assertion and sets the identity", async () => {
    const response = await gateway.fetch("/hono/api/me", { headers: bearer });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ sub: "user-alice", scopes: ["read", "write"], roles: ["member"] });
  });

  it("accepts it behind a gateway whose UPSTREAM_URL has a base path", async () => {
    const response = await based.fetch("/api/me", { headers: bearer });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ sub: "user-alice", path: "/base/api/me" });
  });

  it("with pathPrefix, accepts a request whose prefix something in between removed", async () => {
    await based.fetch("/api/strip", { headers: bearer });
    const assertion = lastAssertion() as string;
    const stripped = honoUpstream({ pathPrefix: "/base" });
    const response = await stripped.request("/api/strip", { headers: { "portcullis-assertion": assertion } });
    expect(response.status).toBe(200);
    const unprefixed = await honoUpstream().request("/api/strip", { headers: { "portcullis-assertion": assertion } });
    expect(unprefixed.status).toBe(401);
  });

  it("refuses a request that did not come through the gateway", async () => {
    refusals.length = 0;
    const response = await fetch(`${gateway.upstream.url}/hono/api/me`, { headers: bearer });
    expect(response.status).toBe(401);
    expect(refusals).toEqual(["missing"]);
  });

  it("refuses an assertion replayed on another route or with another method", async () => {
    await gateway.fetch("/hono/api/me", { headers: bearer });
    const assertion = lastAssertion() as string;
    refusals.length = 0;
    const direct = (path: string, method = "GET") =>
      fetch(`${gateway.upstream.url}${path}`, { method, headers: { "portcullis-assertion": assertion } });
    expect((await direct("/hono/api/me")).status).toBe(200); // the request it was made for
    expect((await direct("/hono/api/admin")).status).toBe(401);
    expect((await direct("/hono/api/me", "DELETE")).status).toBe(401);
    expect((await direct("/hono/api/ME")).status).toBe(401);
    expect(refusals).toEqual(["wrong_request", "wrong_request", "wrong_request"]);
  });

  it("refuses an assertion for another audience", async () => {
    refusals.length = 0;
    expect((await gateway.fetch("/other-audience/x", { headers: bearer })).status).toBe(401);
    expect(refusals).toEqual(["invalid"]);
  });

  it("refuses an expired assertion", async () => {
    refusals.length = 0;
    expect((await gateway.fetch("/late/x", { headers: bearer })).status).toBe(401);
    expect(refusals).toEqual(["expired"]);
  });

  it("refuses an assertion signed by another key, even under the gateway's kid", async () => {
    const other = await makeKey("EdDSA", gateway.key.privateJwk.kid as string);
    const claims: JWTPayload = {
      sub: "user-admin",
      scope: "admin",
      htm: "GET",
      req: await requestHash("GET", "/hono/x"),
    };
    const forged = await new SignJWT(claims)
      .setProtectedHeader({ alg: "EdDSA", typ: "portcullis-assertion+jwt", kid: other.privateJwk.kid })
      .setIssuer(ISSUER)
      .setAudience(audience)
      .setIssuedAt()
      .setExpirationTime("60s")
      .setJti(crypto.randomUUID())
      .sign(other.privateKey);
    refusals.length = 0;
    const response = await fetch(`${gateway.upstream.url}/hono/x`, { headers: { "portcullis-assertion": forged } });
    expect(response.status).toBe(401);
    expect(refusals).toEqual(["invalid"]);
  });

  it("refuses the gateway's access token in place of an assertion", async () => {
    refusals.length = 0;
    const token = bearer.authorization.slice("Bearer ".length);
    const response = await fetch(`${gateway.upstream.url}/hono/x`, { headers: { "portcullis-assertion": token } });
    expect(response.status).toBe(401);
    expect(decodeProtectedHeader(token).typ).toBe("at+jwt");
    expect(refusals).toEqual(["invalid"]);
  });
});

describe("a client's own assertion", () => {
  const spellings = [
    "Portcullis-Assertion",
    "Portcullis_Assertion",
    "portcullis.assertion",
    "PORTCULLIS-ASSERTION",
    "pOrTcUlLiS_aSsErTiOn",
    "Portcullis.Assertion",
  ];

  it("never reaches the upstream on a public route, under any spelling", async () => {
    for (const name of spellings) {
      await gateway.fetch("/public/x", { headers: { [name]: "client-made" } });
      const seen = gateway.upstream.proxied().at(-1);
      expect(seen?.rawHeaders.filter((_, index) => index % 2 === 0).map((n) => n.toLowerCase())).not.toContainEqual(
        expect.stringMatching(/^portcullis[-_.]assertion$/),
      );
    }
  });

  it("is replaced by the gateway's own on a protected route, under any spelling", async () => {
    for (const name of spellings) {
      await gateway.fetch("/api/x", { headers: { ...bearer, [name]: "client-made" } });
      const seen = gateway.upstream.proxied().at(-1);
      const names = (seen?.rawHeaders ?? []).filter((_, index) => index % 2 === 0).map((n) => n.toLowerCase());
      expect(names.filter((n) => /^portcullis[-_.]assertion$/.test(n))).toEqual(["portcullis-assertion"]);
      expect(seen?.headers["portcullis-assertion"]).not.toBe("client-made");
    }
  });

  it("stripped from one request and re-added by the client, never passes", async () => {
    await gateway.fetch("/hono/api/me", { headers: bearer });
    const stolen = lastAssertion() as string;
    // Through the gateway to a public route: dropped, so the Hono upstream sees none.
    refusals.length = 0;
    await gateway.fetch("/public/x", { headers: { "portcullis-assertion": stolen } });
    expect(gateway.upstream.proxied().at(-1)?.headers["portcullis-assertion"]).toBeUndefined();
    // Through the gateway to a protected route with another identity: the gateway's own replaces it.
    const admin = `Bearer ${(await login(gateway, "admin")).accessToken}`;
    const response = await gateway.fetch("/hono/api/me", {
      headers: { authorization: admin, "portcullis-assertion": stolen },
    });
    expect(await response.json()).toMatchObject({ sub: "user-admin" });
    // Without a token at all, the gateway refuses before anything is forwarded.
    expect((await gateway.fetch("/hono/api/me", { headers: { "portcullis-assertion": stolen } })).status).toBe(401);
  });

  it("sent twice and under several spellings on one request, none of it reaches the upstream", async () => {
    await gateway.fetch("/hono/api/me", { headers: bearer });
    const stolen = lastAssertion() as string;
    const agent = new http.Agent();
    const headers = {
      "Portcullis-Assertion": [stolen, "client-made"],
      Portcullis_Assertion: stolen,
      "portcullis.assertion": stolen,
    };
    try {
      for (const [target, extra] of [
        ["/public/x", {}],
        ["/api/x", bearer],
      ] as const) {
        const answer = await sendRaw({
          port: Number(new URL(gateway.url).port),
          target,
          method: "GET",
          headers: { ...headers, ...extra },
          agent,
        });
        expect(answer.status).toBe(200);
        const seen = gateway.upstream.proxied().at(-1);
        const raw = seen?.rawHeaders ?? [];
        const values = raw.filter(
          (_, index) => index % 2 === 1 && /^portcullis[-_.]assertion$/i.test(raw[index - 1] ?? ""),
        );
        // Public: none at all; protected: exactly one, the gateway's own, made for this request.
        expect(values).toHaveLength(target === "/public/x" ? 0 : 1);
        if (target === "/api/x") expect(decodeJwt(values[0] as string).req).toBe(await requestHash("GET", "/api/x"));
      }
    } finally {
      agent.destroy();
    }
  });

  it("is not passed back when the upstream sends one in its answer", async () => {
    const response = await gateway.fetch("/echo-assertion", { headers: bearer });
    expect(response.status).toBe(200);
    expect(response.headers.get("portcullis-assertion")).toBeNull();
  });
});
