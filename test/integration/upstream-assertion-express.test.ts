/**
 * docs/upstream-assertion.md's Express check with jose alone, as written there, in a real Express 5
 * upstream on 127.0.0.1 behind the bundled gateway: it accepts what the gateway forwards
 * and refuses a request that goes around the gateway or replays an assertion elsewhere.
 */
import { createHash } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Gateway, ISSUER, startGateway } from "../support/gateway";
import { mintToken } from "../support/tokens";

let gateway: Gateway;
let express5: http.Server;
let expressUrl: string;
let bearer: { authorization: string };

function expressApp(jwksUrl: string, audience: string): express.Express {
  const app = express();
  // From here to the route: the documented check, word for word but for the names of the URLs.
  const jwks = createRemoteJWKSet(new URL(jwksUrl));
  const requestHash = (method: string, path: string) =>
    createHash("sha256").update(`${method} ${path}`).digest("base64url");

  app.use(async (req, res, next) => {
    try {
      const { payload } = await jwtVerify(req.get("portcullis-assertion") ?? "", jwks, {
        issuer: ISSUER,
        audience,
        typ: "portcullis-assertion+jwt",
        algorithms: ["EdDSA", "ES256", "RS256"],
        clockTolerance: 5,
      });
      const path = req.originalUrl.split("?")[0] as string;
      if (payload.htm !== req.method || payload.req !== requestHash(req.method, path))
        throw new Error("another request");
      (req as unknown as { caller: unknown }).caller = payload;
      next();
    } catch {
      res.status(401).end();
    }
  });
  app.all("/{*rest}", (req, res) => {
    res.json({ sub: (req as unknown as { caller: { sub: string } }).caller.sub });
  });
  return app;
}

beforeAll(async () => {
  // Express listens first, so the gateway can be pointed at it; its app needs the gateway's URL.
  express5 = http.createServer();
  await new Promise<void>((resolve) => express5.listen(0, "127.0.0.1", resolve));
  expressUrl = `http://127.0.0.1:${(express5.address() as AddressInfo).port}`;
  gateway = await startGateway({ vars: { UPSTREAM_ASSERTION: "true", UPSTREAM_URL: expressUrl } });
  express5.on("request", expressApp(`${gateway.url}/.well-known/jwks.json`, expressUrl));
  // Login asks the upstream's credential check, which this upstream has not: a token of the gateway's key.
  bearer = { authorization: `Bearer ${await mintToken(gateway.key)}` };
});
afterAll(async () => {
  await gateway?.close();
  await new Promise((resolve) => express5?.close(resolve));
});

describe("the documented Express check", () => {
  it("accepts what the gateway forwards", async () => {
    const response = await gateway.fetch("/api/me?page=2", { headers: bearer });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ sub: "user-alice" });
  });

  it("refuses a request that goes around the gateway", async () => {
    expect((await fetch(`${expressUrl}/api/me`, { headers: bearer })).status).toBe(401);
  });

  it("refuses an assertion replayed on another path or method", async () => {
    let captured = "";
    express5.prependOnceListener("request", (request: http.IncomingMessage) => {
      captured = String(request.headers["portcullis-assertion"]);
    });
    expect((await gateway.fetch("/api/orders", { headers: bearer })).status).toBe(200);
    const replay = (path: string, method = "GET") =>
      fetch(`${expressUrl}${path}`, { method, headers: { "portcullis-assertion": captured } });
    expect((await replay("/api/orders")).status).toBe(200);
    expect((await replay("/api/admin")).status).toBe(401);
    expect((await replay("/api/orders", "DELETE")).status).toBe(401);
  });
});
