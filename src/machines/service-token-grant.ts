/**
 * Giving a service client an access token: the one path from "these are its credentials"
 * to "this is its token", shared by POST /auth/token (auth/service-token.ts) and
 * SERVICE_TOKEN_HEADER (gateway/service-token-header.ts), so both check the same object,
 * count the same limits, refuse alike and mint the same token.
 *
 * The object's answer is judged here; how the client presented its credentials, and what
 * the answer looks like, are the caller's. A refusal is always `client_invalid` (401) with
 * the challenge the caller names; the reason goes to the log only, with the client id when
 * it has the shape of one this gateway issues (anything else could be a pasted secret).
 */
import type { GatewayConfig } from "../config/config";
import { GatewayError, type GatewayErrorOptions } from "../errors/gateway-error";
import { enforceRateLimit, type LimitedRequest } from "../http/rate-limit";
import { log } from "../log/logger";
import { type IssuedAccessToken, issueAccessToken } from "../tokens/issue-access-token";
import type { SigningKey } from "../tokens/key-ring";
import { isClientId, isClientSecretShape } from "./client-secret";
import type { AuthenticatedClient, AuthenticateResult } from "./service-client-record";
import { serviceSubject } from "./service-client-record";
import type { ServiceClients } from "./service-clients";

export type ServiceClientsStub = DurableObjectStub<ServiceClients>;

/** What a grant needs of the request (the gateway's request context has it all). */
export interface GrantContext extends LimitedRequest {
  readonly config: Pick<GatewayConfig, "issuer" | "audience" | "accessTokenTtl">;
  readonly keys: { readonly signer: SigningKey | undefined };
  readonly now: () => number;
}

/** How the client authenticated, as the log names it. */
export type ClientMethod =
  | "client_secret_basic"
  | "client_secret_post"
  | "private_key_jwt"
  /** SERVICE_TOKEN_HEADER: `<client_id>:<secret>` on a proxied request. */
  | "service_token_header";

/** How a refusal challenges the client: HTTP Basic at the token endpoint, the header's name at SERVICE_TOKEN_HEADER. */
export type ClientChallenge = Pick<GatewayErrorOptions, "basicChallenge" | "serviceTokenChallenge">;

/** One call to the object; its failure is `service_clients_unavailable` (503), never a 500. */
export async function callServiceClients<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw new GatewayError("service_clients_unavailable", { detail: "ServiceClients call failed", cause: error });
  }
}

/** A refused client: logged as a security event, answered `client_invalid`. */
export function refusedClient(
  context: GrantContext,
  clientId: string,
  reason: string,
  challenge: ClientChallenge,
  method?: ClientMethod,
): GatewayError {
  log.security("client_auth_failed", {
    requestId: context.requestId,
    reason,
    client_id: isClientId(clientId) ? clientId : undefined,
    method,
    ip: context.clientIp,
  });
  return new GatewayError("client_invalid", { detail: reason, ...challenge });
}

/**
 * The object's answer, judged: the client, once it counted against its own limit
 * (REFRESH_SESSION_LIMIT under `client:<id>`; counted after authentication, so nobody who
 * merely knows a client id can use up its allowance), or a refusal.
 */
export async function admittedClient(
  context: GrantContext,
  clientId: string,
  result: AuthenticateResult,
  challenge: ClientChallenge,
  method: ClientMethod,
): Promise<AuthenticatedClient> {
  if (!result.ok) {
    const reason = result.detail ? `${result.reason}: ${result.detail}` : result.reason;
    throw refusedClient(context, clientId, reason, challenge, method);
  }
  await enforceRateLimit(context, "REFRESH_SESSION_LIMIT", `client:${result.client.clientId}`);
  return result.client;
}

/**
 * A client by its id and secret: what is not the shape of anything issued here is refused
 * without a call to the object; the object compares the secret's hash in constant time.
 */
export async function authenticateBySecret(
  context: GrantContext,
  clients: ServiceClientsStub,
  presented: { readonly clientId: string; readonly secret: string },
  challenge: ClientChallenge,
  method: ClientMethod,
): Promise<AuthenticatedClient> {
  const { clientId, secret } = presented;
  if (!isClientId(clientId)) throw refusedClient(context, clientId, "unknown_client", challenge, method);
  if (!isClientSecretShape(secret)) throw refusedClient(context, clientId, "wrong_secret", challenge, method);
  const result = await callServiceClients(
    async () => (await clients.authenticate(clientId, secret)) as AuthenticateResult,
  );
  return admittedClient(context, clientId, result, challenge, method);
}

/**
 * The access token of an authenticated client: RFC 9068, `sub` = `svc|<client_id>`, its
 * `client_id`, `scope`, no session; ACCESS_TOKEN_TTL, never past the client's own expiry.
 */
export async function issueServiceToken(
  context: GrantContext,
  client: AuthenticatedClient,
  scope: readonly string[],
  challenge: ClientChallenge,
  method: ClientMethod,
): Promise<IssuedAccessToken> {
  const now = context.now();
  const ttlSeconds = Math.min(context.config.accessTokenTtl, Math.floor((client.expiresAt - now) / 1000));
  if (ttlSeconds < 1) throw refusedClient(context, client.clientId, "expired", challenge, method);
  const issued = await issueAccessToken(
    {
      sub: serviceSubject(client.clientId),
      sid: undefined,
      clientId: client.clientId,
      // When the object authenticated the client: a revocation recorded after it covers this token.
      authTime: client.authenticatedAt / 1000,
      scope,
      roles: [],
    },
    context.keys.signer,
    { issuer: context.config.issuer, audience: context.config.audience, ttlSeconds, now },
  );
  log.info("service_token_issued", {
    requestId: context.requestId,
    client_id: client.clientId,
    method,
    secret: client.secret,
    scope: scope.join(" "),
    jti: issued.jti,
  });
  return issued;
}
