/**
 * A real authorization server (panva's oidc-provider 9.x) on 127.0.0.1 that issues **opaque**
 * access tokens and introspects them (RFC 7662), for the introspection tests. Its own
 * small configuration, apart from test/support/oidc-idp.ts, so the login tests' IdP stays
 * exactly as it is.
 *
 *   const idp = await startOpaqueTokenIdp({ audience: "https://api.example.test" });
 *   const token = await idp.issueToken("deploy:write");  // client_credentials, opaque
 *   await idp.revoke(token);                             // RFC 7009, at the provider
 *   idp.introspections                                   // introspection requests it answered
 *   await idp.down("refused" | "503" | "hang"); await idp.up();
 *
 * Two confidential clients (client_secret_basic): CLIENT_ID, the machine that gets tokens
 * (client_credentials) and revokes them, and INTROSPECTION_CLIENT_ID, the gateway, which
 * may introspect any of the provider's tokens. Tokens are made for one resource (resource
 * indicators, RFC 8707), opaque, so their introspection carries `aud`.
 */
import { randomBytes } from "node:crypto";
import type http from "node:http";
import Provider from "oidc-provider";
import { signingKey } from "../../examples/demo-idp/provider-config";
import { loopbackServer } from "./loopback-server";

export const CLIENT_ID = "ci-runner";
export const INTROSPECTION_CLIENT_ID = "portcullis-introspection";
/** The scopes the resource server offers. */
const RESOURCE_SCOPES = "deploy:write status:read";

export interface OpaqueTokenIdp {
  readonly issuer: string;
  readonly introspectionUrl: string;
  readonly clientSecret: string;
  /** The gateway's secret at the introspection endpoint. */
  readonly introspectionSecret: string;
  /** Introspection requests the provider answered (any outcome). */
  readonly introspections: number;
  issueToken(scope: string): Promise<string>;
  revoke(token: string): Promise<void>;
  /** "refused": the port stops listening; "503": every request answers 503; "hang": none is answered. */
  down(mode: "refused" | "503" | "hang"): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function startOpaqueTokenIdp(options: { audience: string; ttl?: number }): Promise<OpaqueTokenIdp> {
  const clientSecret = randomBytes(24).toString("base64url");
  const introspectionSecret = randomBytes(24).toString("base64url");
  let mode: "up" | "503" | "hang" = "up";
  let introspections = 0;
  let handler: http.RequestListener = (_request, response) => response.writeHead(503).end();
  const loopback = await loopbackServer((request, response) => {
    if (mode === "hang") return;
    if (mode === "503") return void response.writeHead(503, { "content-type": "text/plain" }).end("unavailable");
    handler(request, response);
  });
  const issuer = loopback.origin;
  const { privateJwk } = await signingKey();

  const provider = new Provider(issuer, {
    jwks: { keys: [privateJwk as never] },
    cookies: { keys: [randomBytes(32).toString("base64url")] },
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: clientSecret,
        token_endpoint_auth_method: "client_secret_basic",
        grant_types: ["client_credentials"],
        response_types: [],
        redirect_uris: [],
      },
      {
        client_id: INTROSPECTION_CLIENT_ID,
        client_secret: introspectionSecret,
        token_endpoint_auth_method: "client_secret_basic",
        grant_types: [],
        response_types: [],
        redirect_uris: [],
      },
    ],
    ttl: { ClientCredentials: options.ttl ?? 600 },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      revocation: { enabled: true, allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId },
      // The gateway's client may introspect every token of this provider (a resource server's).
      introspection: {
        enabled: true,
        allowedPolicy: async (_ctx, client) => client.clientId === INTROSPECTION_CLIENT_ID,
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => options.audience,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: RESOURCE_SCOPES,
          audience: options.audience,
          accessTokenFormat: "opaque",
          accessTokenTTL: options.ttl ?? 600,
        }),
      },
    },
  });
  provider.use(async (ctx, next) => {
    if (ctx.path === "/token/introspection") introspections++;
    await next();
  });
  handler = provider.callback();

  const basic = (id: string, secret: string) =>
    `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}`;
  const post = async (path: string, body: Record<string, string>) => {
    const response = await fetch(`${issuer}${path}`, {
      method: "POST",
      headers: { authorization: basic(CLIENT_ID, clientSecret), "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(body),
    });
    if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
    return response;
  };

  return {
    issuer,
    introspectionUrl: `${issuer}/token/introspection`,
    clientSecret,
    introspectionSecret,
    get introspections() {
      return introspections;
    },
    issueToken: async (scope) => {
      const answer = (await (await post("/token", { grant_type: "client_credentials", scope })).json()) as {
        access_token: string;
      };
      return answer.access_token;
    },
    revoke: async (token) => {
      await post("/token/revocation", { token, token_type_hint: "access_token" });
    },
    down: async (next) => {
      if (next === "refused") return loopback.stop();
      loopback.cutConnections();
      mode = next;
    },
    up: async () => {
      mode = "up";
      await loopback.listen();
    },
    close: () => loopback.stop(),
  };
}
