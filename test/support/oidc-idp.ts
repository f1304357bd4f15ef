/**
 * A real OpenID Provider (panva's oidc-provider 9.x) on 127.0.0.1 for the OIDC login tests,
 * so the gateway talks to the same discovery, JWKS, token and logout endpoints a real IdP has.
 *
 *   const idp = await startIdp();                       // issuer http://127.0.0.1:<port>
 *   const gateway = await startGateway({ vars: idp.gatewayVars() });
 *   idp.registerGateway(gateway.url);                  // redirect, post-logout and back-channel URIs
 *   const session = await loginThroughIdp(gateway.url, { login: "alice" });  // oidc-login.ts
 *   idp.countTokenRequests("refresh_token")            // refresh grants the IdP saw (ok + failed)
 *   idp.accessTokenTtl = 1;                            // IdP access tokens issued from now on
 *   await idp.revokeGrants("alice");                   // the next IdP refresh gets invalid_grant
 *   await idp.down("refused" | "503"); await idp.up(); // the IdP is unreachable / failing, then back
 *   await logoutAtIdp(idp, session.jar);               // oidc-login.ts: ends the IdP session, which
 *   idp.backchannel                                    //   posts back-channel logout (results here)
 *   idp.sids("alice")                                  // the user's IdP session ids (`sid` claims)
 *   idp.sign(claims, header)                           // a JWT signed with the IdP's own key
 *   idp.tamperTokenResponse = async (body) => body     // rewrite token-endpoint answers (attacks)
 *   await idp.close();
 *
 * Configuration (what the issue requires): devInteractions (any login/password), PKCE required,
 * refresh tokens (scope offline_access AND prompt=consent), rotateRefreshToken (a reused refresh
 * token gives invalid_grant and revokes the grant), backchannelLogout + rpInitiatedLogout, one
 * confidential client using client_secret_basic whose ID tokens carry `sid`. The ID token carries
 * the scope's claims (conformIdTokenClaims off) and `groups`, always.
 * The configuration itself is examples/demo-idp/provider-config.ts, shared with `npm run dev`'s IdP.
 */
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { type JWTPayload, SignJWT } from "jose";
import Provider, {
  type Adapter,
  type AdapterPayload,
  type ClientMetadata,
  type KoaContextWithOIDC,
} from "oidc-provider";

import {
  demoSignIn,
  gatewayClient,
  IDP_CLIENT_ID,
  idpConfiguration,
  recordSignIns,
  type SignInAsked,
  type SignInResult,
  signingKey,
} from "../../examples/demo-idp/provider-config";

export { BACKCHANNEL_PATH, CALLBACK_PATH, IDP_CLIENT_ID } from "../../examples/demo-idp/provider-config";

export interface IdpOptions {
  /** Seconds an IdP access token lives (default 3600); `idp.accessTokenTtl` changes it later. */
  readonly accessTokenTtl?: number;
  /** Extra claims per login name, e.g. `{ admin: { groups: ["admin"] } }`. */
  readonly accounts?: Record<string, Record<string, unknown>>;
  /** Client metadata overriding the defaults (e.g. `redirect_uris` when the gateway URL is known). */
  readonly client?: Partial<ClientMetadata>;
  /**
   * The acr and amr each sign-in records (default: the demo's: a password, or when
   * `acr_values` asks for more, a pretend second factor at the first level asked for).
   */
  readonly signIn?: (login: string, asked: SignInAsked) => SignInResult;
}

export interface TokenRequest {
  readonly grantType: string;
  readonly status: number;
  /** The OAuth error code of a refused request, e.g. "invalid_grant". */
  readonly error?: string;
}

export interface BackchannelResult {
  readonly sub: string;
  readonly sid: string;
  readonly ok: boolean;
  readonly error?: string;
}

export interface TestIdp {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly provider: Provider;
  /** Every request the token endpoint answered, in order. */
  readonly tokenRequests: TokenRequest[];
  /** Every back-channel logout the IdP posted, in order. */
  readonly backchannel: BackchannelResult[];
  accessTokenTtl: number;
  /** Rewrites each JSON answer of the token endpoint (for tests of a misbehaving IdP). */
  tamperTokenResponse: ((body: Record<string, unknown>) => Promise<Record<string, unknown>>) | undefined;
  /** Token-endpoint requests of a grant type, optionally only those that succeeded or failed. */
  countTokenRequests(grantType: string, outcome?: "ok" | "error"): number;
  /** The settings a gateway needs for this IdP (OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET…). */
  gatewayVars(): Record<string, string>;
  /** Registers the gateway at `gatewayUrl`: callback, post-logout redirect `/`, back-channel logout. */
  registerGateway(gatewayUrl: string, extra?: Partial<ClientMetadata>): Promise<void>;
  /** Revokes every grant (and its tokens) of a user at the IdP. Returns how many grants. */
  revokeGrants(accountId: string): Promise<number>;
  /** The IdP session ids (`sid` in ID and logout tokens) of a user's live IdP sessions, for this client. */
  sids(accountId: string): string[];
  /** Ends every IdP session of a user, posting back-channel logout to each client, as a logout at the IdP does. */
  endSessions(accountId: string): Promise<BackchannelResult[]>;
  /** "refused": the port stops listening (connections refused); "503": every request answers 503. */
  down(mode: "refused" | "503"): Promise<void>;
  up(): Promise<void>;
  /** The `kid` of the IdP's signing key (a forgery can claim it). */
  readonly signingKid: string;
  /** Signs a JWT with the IdP's own signing key (RS256), with `iss` = issuer unless given. */
  sign(payload: JWTPayload, header?: { alg?: string; typ?: string; kid?: string }): Promise<string>;
  close(): Promise<void>;
}

/** A Map-backed adapter shared by all models of one provider, so tests can look grants up. */
export function memoryAdapter(store: Map<string, { model: string; payload: AdapterPayload; expiresAt: number }>) {
  return (model: string): Adapter => {
    const key = (id: string) => `${model}:${id}`;
    const live = (id: string) => {
      const entry = store.get(key(id));
      if (entry === undefined) return undefined;
      if (entry.expiresAt <= Date.now()) return void store.delete(key(id));
      return entry.payload;
    };
    return {
      upsert: async (id, payload, expiresIn) =>
        void store.set(key(id), { model, payload, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : Infinity }),
      find: async (id) => live(id),
      findByUid: async (uid) => {
        for (const [k, entry] of store)
          if (entry.model === model && entry.payload.uid === uid) return live(k.slice(model.length + 1));
        return undefined;
      },
      findByUserCode: async () => undefined,
      consume: async (id) => {
        const payload = live(id);
        if (payload) payload.consumed = Math.floor(Date.now() / 1000);
      },
      destroy: async (id) => void store.delete(key(id)),
      revokeByGrantId: async (grantId) => {
        for (const [k, entry] of store) if (entry.payload.grantId === grantId) store.delete(k);
      },
    };
  };
}

export async function startIdp(options: IdpOptions = {}): Promise<TestIdp> {
  const store = new Map<string, { model: string; payload: AdapterPayload; expiresAt: number }>();
  const clientSecret = randomBytes(32).toString("base64url");
  const { privateJwk, privateKey } = await signingKey();
  const sockets = new Set<Socket>();
  let mode: "up" | "refused" | "503" = "up";
  let handler: http.RequestListener = (_request, response) => void response.writeHead(503).end();
  const server = http.createServer((request, response) => {
    if (mode === "503") return void response.writeHead(503, { "content-type": "text/plain" }).end("IdP unavailable");
    handler(request, response);
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("error", () => socket.destroy());
    socket.on("close", () => sockets.delete(socket));
  });
  server.on("error", (error) => console.error("test IdP server error", error));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;

  const adapterFor = memoryAdapter(store);
  const idp = {
    accessTokenTtl: options.accessTokenTtl ?? 3600,
    tamperTokenResponse: undefined as TestIdp["tamperTokenResponse"],
    tokenRequests: [] as TokenRequest[],
    backchannel: [] as BackchannelResult[],
  };
  const provider = new Provider(
    issuer,
    idpConfiguration({
      clients: [],
      signingJwk: privateJwk,
      cookieKey: randomBytes(32).toString("base64url"),
      accessTokenTtl: () => idp.accessTokenTtl,
      claims: (sub) => options.accounts?.[sub] ?? {},
      adapter: adapterFor,
    }),
  );
  // The client lives in the adapter, not in the static list, so a test can register the gateway's
  // URIs once the gateway's port is known (oidc-provider re-reads a changed client).
  const upsertClient = (metadata: ClientMetadata) => adapterFor("Client").upsert(metadata.client_id, metadata as never);
  await upsertClient({ ...gatewayClient(clientSecret), ...options.client });

  provider.use(async (ctx, next) => {
    await next();
    if (ctx.path !== "/token" || ctx.method !== "POST") return;
    const body = (ctx.body ?? {}) as Record<string, unknown>;
    const grantType = String((ctx as KoaContextWithOIDC).oidc?.params?.grant_type ?? "unknown");
    idp.tokenRequests.push({
      grantType,
      status: ctx.status,
      ...(typeof body.error === "string" ? { error: body.error } : {}),
    });
    if (idp.tamperTokenResponse && ctx.status === 200) ctx.body = await idp.tamperTokenResponse(body);
  });
  const record =
    (ok: boolean) =>
    (_ctx: unknown, ...rest: unknown[]) => {
      const [error, , sub, sid] = ok ? [undefined, ...rest] : rest;
      idp.backchannel.push({
        sub: String(sub),
        sid: String(sid),
        ok,
        ...(ok ? {} : { error: String((error as Error)?.message ?? error) }),
      });
    };
  provider.on("backchannel.success", record(true));
  provider.on("backchannel.error", record(false));
  recordSignIns(provider, options.signIn ?? demoSignIn);
  handler = provider.callback();

  const grantsOf = (accountId: string) =>
    [...store.values()].filter((e) => e.model === "Grant" && e.payload.accountId === accountId).map((e) => e.payload);

  const api: TestIdp = Object.assign(idp, {
    issuer,
    clientId: IDP_CLIENT_ID,
    clientSecret,
    provider,
    signingKid: String(privateJwk.kid),
    countTokenRequests: (grantType: string, outcome?: "ok" | "error") =>
      idp.tokenRequests.filter(
        (r) => r.grantType === grantType && (outcome === undefined || (outcome === "ok") === (r.status === 200)),
      ).length,
    gatewayVars: () => ({ OIDC_ISSUER: issuer, OIDC_CLIENT_ID: IDP_CLIENT_ID, OIDC_CLIENT_SECRET: clientSecret }),
    registerGateway: async (gatewayUrl: string, extra: Partial<ClientMetadata> = {}) => {
      await upsertClient({
        ...gatewayClient(clientSecret, [gatewayUrl.replace(/\/$/, "")]),
        ...options.client,
        ...extra,
      });
    },
    revokeGrants: async (accountId: string) => {
      const grants = grantsOf(accountId);
      for (const grant of grants) {
        const grantId = String(grant.jti);
        await adapterFor("Grant").revokeByGrantId(grantId);
        await adapterFor("Grant").destroy(grantId);
      }
      return grants.length;
    },
    sids: (accountId: string) =>
      [...store.values()]
        .filter((e) => e.model === "Session" && e.payload.accountId === accountId && e.expiresAt > Date.now())
        .map((e) => (e.payload.authorizations as Record<string, { sid?: string }> | undefined)?.[IDP_CLIENT_ID]?.sid)
        .filter((sid): sid is string => typeof sid === "string"),
    endSessions: async (accountId: string) => {
      const results: BackchannelResult[] = [];
      const sessions = [...store.entries()].filter(
        ([, e]) => e.model === "Session" && e.payload.accountId === accountId,
      );
      for (const [key, { payload }] of sessions) {
        const authorizations = (payload.authorizations ?? {}) as Record<string, { sid?: string; grantId?: string }>;
        for (const [clientId, authorization] of Object.entries(authorizations)) {
          const client = (await provider.Client.find(clientId)) as
            | { backchannelLogoutUri?: string; backchannelLogout(sub: string, sid: string): Promise<void> }
            | undefined;
          if (client?.backchannelLogoutUri && authorization.sid) {
            const before = idp.backchannel.length;
            await client.backchannelLogout(accountId, authorization.sid).then(
              () => record(true)(undefined, client, accountId, authorization.sid),
              (error: unknown) => record(false)(undefined, error, client, accountId, authorization.sid),
            );
            results.push(...idp.backchannel.slice(before));
          }
          if (authorization.grantId) await adapterFor("Grant").revokeByGrantId(authorization.grantId);
        }
        store.delete(key);
      }
      return results;
    },
    down: async (next: "refused" | "503") => {
      mode = next;
      for (const socket of sockets) socket.destroy();
      if (next === "refused" && server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    up: async () => {
      if (!server.listening) {
        await new Promise<void>((resolve, reject) => {
          server.once("error", reject);
          server.listen(port, "127.0.0.1", () => {
            server.off("error", reject);
            resolve();
          });
        });
      }
      mode = "up";
    },
    sign: (payload: JWTPayload, header: { alg?: string; typ?: string; kid?: string } = {}) =>
      new SignJWT({ iss: issuer, ...payload })
        .setProtectedHeader({ alg: "RS256", kid: privateJwk.kid, ...header })
        .sign(privateKey),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
  return api;
}
