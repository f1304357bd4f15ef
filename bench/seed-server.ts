/**
 * The seed design's backend-managed refresh, as people write it: Express, cookie-parser,
 * jsonwebtoken and http-proxy-middleware, in its own process.
 *
 * SEED_CONFIG (JSON) chooses:
 * - `mode: "plain"`: the Express proxy alone (the floor for the middleware's cost);
 * - `mode: "seed"`: the seed's middleware (verify the access token; on TokenExpiredError
 *   verify the refresh cookie, sign a new access token, pass it on) in front of the same proxy.
 * `alg` is HS256 (the seed's shared secret) or ES256 (jsonwebtoken has no EdDSA).
 * Prints `{"url": ...}` once it listens.
 */
import { createPrivateKey, createPublicKey, type JsonWebKeyInput, type KeyObject } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import cookieParser from "cookie-parser";
import express, { type NextFunction, type Request, type Response } from "express";
import { createProxyMiddleware } from "http-proxy-middleware";
import jwt from "jsonwebtoken";

export interface SeedConfig {
  readonly mode: "plain" | "seed";
  readonly upstream: string;
  readonly alg: "HS256" | "ES256";
  /** HS256: the shared ACCESS_SECRET. */
  readonly accessSecret?: string;
  /** ES256: the access-token key pair as JWKs. */
  readonly accessPrivateJwk?: Record<string, unknown>;
  readonly accessPublicJwk?: Record<string, unknown>;
  readonly refreshSecret: string;
}

function keysFor(config: SeedConfig): { verify: string | KeyObject; sign: string | KeyObject } {
  if (config.alg === "HS256") {
    const secret = config.accessSecret ?? "";
    return { verify: secret, sign: secret };
  }
  const jwkKey = (jwk: Record<string, unknown> | undefined) => ({ key: jwk, format: "jwk" }) as JsonWebKeyInput;
  return {
    verify: createPublicKey(jwkKey(config.accessPublicJwk)),
    sign: createPrivateKey(jwkKey(config.accessPrivateJwk)),
  };
}

/** The seed's middleware, line for line, with the key and algorithm made parameters. */
function seedRefreshMiddleware(config: SeedConfig) {
  const keys = keysFor(config);
  const ACCESS_SECRET = keys.verify;
  const REFRESH_SECRET = config.refreshSecret;
  return async function seedRefresh(req: Request, res: Response, next: NextFunction) {
    const accessToken = req.headers.authorization?.split(" ")[1];
    if (!accessToken) return res.sendStatus(401);
    try {
      jwt.verify(accessToken, ACCESS_SECRET);
      return next();
    } catch (err) {
      if ((err as Error).name === "TokenExpiredError") {
        const refreshToken = req.cookies.refreshToken;
        if (!refreshToken) return res.sendStatus(403);
        try {
          const payload = jwt.verify(refreshToken, REFRESH_SECRET) as jwt.JwtPayload;
          const newAccessToken = jwt.sign({ userId: payload.userId }, keys.sign, {
            expiresIn: "15m",
            algorithm: config.alg,
          });
          res.setHeader("Authorization", `Bearer ${newAccessToken}`);
          req.headers.authorization = `Bearer ${newAccessToken}`;
          return next();
        } catch {
          return res.sendStatus(403);
        }
      } else {
        return res.sendStatus(401);
      }
    }
  };
}

const config = JSON.parse(process.env.SEED_CONFIG ?? "{}") as SeedConfig;
const app = express();
app.disable("x-powered-by");
if (config.mode === "seed") {
  app.use(cookieParser());
  app.use(seedRefreshMiddleware(config));
}
// A keep-alive agent, as a production proxy would use: the plain proxy is a fair floor.
app.use(createProxyMiddleware({ target: config.upstream, agent: new http.Agent({ keepAlive: true }) }));

const server = app.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}` })}\n`);
});
const shutdown = () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
};
process.once("SIGTERM", shutdown);
process.once("SIGINT", shutdown);
process.stdin.on("close", shutdown);
process.stdin.resume();
