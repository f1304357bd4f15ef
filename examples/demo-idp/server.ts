/**
 * The demo identity provider that `npm run dev` starts beside the gateway (scripts/dev.mjs):
 * a real OpenID Provider (oidc-provider) on 127.0.0.1 whose sign-in form accepts any name and
 * password. It knows one client, the dev gateway, with the development-only client secret.
 * Its state (sessions, grants, signing key) lives in memory: a restart forgets every IdP
 * session, so the gateway's IdP sessions then end at their next IdP refresh.
 *
 *   node examples/demo-idp/server.ts [--port 8790] [--gateway-port 8787]
 *
 * Not for deployment: development-only secrets, devInteractions, plain http.
 */
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import Provider from "oidc-provider";
import { DEV_OIDC_CLIENT_SECRET } from "../../src/config/dev-keys.ts";
import {
  type AccountClaims,
  demoSignIn,
  gatewayClient,
  idpConfiguration,
  recordSignIns,
  signingKey,
} from "./provider-config.ts";

export const DEFAULT_IDP_PORT = 8790;

/**
 * The demo's claims: everyone gets the scope "read write" (as the password login's alice does);
 * the login name "admin" also gets "admin" and the role "operator". The dev gateway maps `groups`
 * to scope and `roles` to roles (OIDC_SCOPE_CLAIM, OIDC_ROLES_CLAIM in wrangler.toml).
 */
const demoClaims: AccountClaims = (sub) =>
  sub === "admin" ? { groups: ["read", "write", "admin"], roles: ["operator"] } : { groups: ["read", "write"] };

/** Starts the demo IdP on 127.0.0.1:`port` (0: any free port) for a gateway on `gatewayPort`. */
export async function startDemoIdp(
  port: number,
  gatewayPort: number,
): Promise<{ server: http.Server; issuer: string }> {
  let handler: http.RequestListener = (_request, response) => void response.writeHead(503).end();
  const server = http.createServer((request, response) => handler(request, response));
  server.on("clientError", (_error, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { privateJwk } = await signingKey();
  // The gateway may be opened as localhost or 127.0.0.1; its redirect URI follows the origin.
  const origins = [`http://localhost:${gatewayPort}`, `http://127.0.0.1:${gatewayPort}`];
  const client = gatewayClient(DEV_OIDC_CLIENT_SECRET, origins);
  const provider = new Provider(
    issuer,
    idpConfiguration({
      clients: [{ ...client, post_logout_redirect_uris: origins.flatMap((o) => [`${o}/`, `${o}/demo/`]) }],
      signingJwk: privateJwk,
      cookieKey: randomBytes(32).toString("base64url"),
      accessTokenTtl: () => 300,
      claims: demoClaims,
    }),
  );
  // Say what happened to each back-channel logout: a newcomer watching the terminal sees it.
  provider.on("backchannel.success", (_ctx: unknown, _client: unknown, sub: string) =>
    console.log(`[demo-idp] back-channel logout of ${sub} delivered to the gateway`),
  );
  provider.on("backchannel.error", (_ctx: unknown, error: Error, _client: unknown, sub: string) =>
    console.error(`[demo-idp] back-channel logout of ${sub} failed: ${error.message}`),
  );
  recordSignIns(provider, demoSignIn);
  handler = provider.callback();
  return { server, issuer };
}

if (process.argv[1] === import.meta.filename) {
  const { values } = parseArgs({
    options: { port: { type: "string" }, "gateway-port": { type: "string" } },
  });
  const port = Number(values.port ?? DEFAULT_IDP_PORT);
  const gatewayPort = Number(values["gateway-port"] ?? 8787);
  const { server, issuer } = await startDemoIdp(port, gatewayPort).catch((error: NodeJS.ErrnoException) => {
    const hint =
      error.code === "EADDRINUSE" ? ": the port is taken; choose another with npm run dev -- --idp-port N" : "";
    console.error(`[demo-idp] cannot listen on 127.0.0.1:${port} (${error.code ?? error.message})${hint}`);
    process.exit(1);
  });
  console.log(`[demo-idp] OpenID Provider at ${issuer} (pid ${process.pid}); sign in with any name`);
  const stop = () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}
