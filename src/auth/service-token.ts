/**
 * POST /auth/token — the client credentials grant (RFC 6749 §4.4) for service clients
 * (docs/identities.md). A form body `grant_type=client_credentials` and optional `scope`;
 * the client authenticates by HTTP Basic or by `client_id`/`client_secret` in the form
 * (client-authentication.ts). The answer is an RFC 9068 access token of the gateway's own
 * with `sub` = `svc|<client_id>`, `client_id`, the granted `scope` and no session (`sid`):
 * no refresh token, the machine asks again. Errors are RFC 6749 §5.2's.
 *
 * Rate limits: per client address before anything is read (REFRESH_IP_LIMIT: an exchange
 * is, like a refresh, one request per token lifetime of a well-behaved client), and per
 * client once it has authenticated (REFRESH_SESSION_LIMIT, under `client:<id>`): counted
 * after authentication, so nobody who merely knows a client id can use up its allowance,
 * while a guessed secret is out of reach anyway (256 bits).
 */
import { GatewayError } from "../errors/gateway-error";
import type { RequestContext } from "../gateway/request-context";
import { enforceRateLimit, ipKey } from "../http/rate-limit";
import { readFields } from "../http/read-body";
import { log } from "../log/logger";
import { isClientId, isClientSecretShape } from "../machines/client-secret";
import { grantedScope } from "../machines/service-client-input";
import type { AuthenticateResult } from "../machines/service-client-record";
import { serviceSubject } from "../machines/service-client-record";
import { issueAccessToken } from "../tokens/issue-access-token";
import { presentedClient } from "./client-authentication";
import { callServiceClients, serviceClientsOf } from "./service-clients";

export const TOKEN_PATH = "/auth/token";

function refusedClient(context: RequestContext, clientId: string, reason: string): GatewayError {
  log.security("client_auth_failed", {
    requestId: context.requestId,
    reason,
    // Only the shape of an id this gateway issues is logged: anything else could be a pasted secret.
    client_id: isClientId(clientId) ? clientId : undefined,
    ip: context.clientIp,
  });
  return new GatewayError("client_invalid", { detail: reason, basicChallenge: true });
}

export async function handleServiceToken(context: RequestContext, request: Request): Promise<Response> {
  const clients = serviceClientsOf(context);
  await enforceRateLimit(context, "REFRESH_IP_LIMIT", ipKey(context));
  const fields = await readFields(request, ["form"]);
  if (fields.grant_type === undefined || fields.grant_type === "") {
    throw new GatewayError("request_invalid", { detail: '"grant_type" is required' });
  }
  if (fields.grant_type !== "client_credentials") {
    throw new GatewayError("grant_type_unsupported", { detail: "only client_credentials is served here" });
  }
  const presented = presentedClient(context.incoming.authorization ?? null, fields);
  // Not the shape of anything issued here: refused without a call to the object.
  if (!isClientId(presented.clientId)) throw refusedClient(context, presented.clientId, "unknown_client");
  let result: AuthenticateResult;
  if (presented.method === "private_key_jwt") {
    // RFC 7523 §3: the assertion's audience is this endpoint, as the client reached it.
    const audience = `${context.url.origin}${TOKEN_PATH}`;
    result = await callServiceClients(
      async () =>
        (await clients.authenticateAssertion(presented.clientId, presented.assertion, audience)) as AuthenticateResult,
    );
  } else {
    if (!isClientSecretShape(presented.secret)) throw refusedClient(context, presented.clientId, "wrong_secret");
    result = await callServiceClients(
      async () => (await clients.authenticate(presented.clientId, presented.secret)) as AuthenticateResult,
    );
  }
  if (!result.ok) {
    throw refusedClient(
      context,
      presented.clientId,
      result.detail ? `${result.reason}: ${result.detail}` : result.reason,
    );
  }
  const { client } = result;
  await enforceRateLimit(context, "REFRESH_SESSION_LIMIT", `client:${client.clientId}`);

  const scope = grantedScope(fields.scope, client.scopes);
  if (scope === undefined) {
    throw new GatewayError("scope_invalid", { detail: `client ${client.clientId} asked for a scope it does not hold` });
  }
  const now = context.now();
  // Never past the client's own expiry.
  const ttlSeconds = Math.min(context.config.accessTokenTtl, Math.floor((client.expiresAt - now) / 1000));
  if (ttlSeconds < 1) throw refusedClient(context, client.clientId, "expired");
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
    method: presented.method,
    secret: client.secret,
    scope: scope.join(" "),
    jti: issued.jti,
  });
  const body = {
    access_token: issued.token,
    token_type: "Bearer",
    expires_in: issued.expiresIn,
    scope: scope.join(" "),
  };
  return new Response(JSON.stringify(body), {
    status: 200,
    headers: { "content-type": "application/json", "cache-control": "no-store", pragma: "no-cache" },
  });
}
