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
 * while a guessed secret is out of reach anyway (256 bits). The checks and the minting are
 * machines/service-token-grant.ts's, shared with SERVICE_TOKEN_HEADER.
 */
import { GatewayError } from "../errors/gateway-error";
import type { RequestContext } from "../gateway/request-context";
import { enforceRateLimit, ipKey } from "../http/rate-limit";
import { readFields } from "../http/read-body";
import { isClientId } from "../machines/client-secret";
import { grantedScope } from "../machines/service-client-input";
import type { AuthenticatedClient, AuthenticateResult } from "../machines/service-client-record";
import {
  admittedClient,
  authenticateBySecret,
  callServiceClients,
  issueServiceToken,
  refusedClient,
} from "../machines/service-token-grant";
import { presentedClient } from "./client-authentication";
import { serviceClientsOf } from "./service-clients";

export const TOKEN_PATH = "/auth/token";

/** RFC 6749 §5.2: a client that tried HTTP Basic gets a challenge of that scheme. */
const BASIC = { basicChallenge: true } as const;

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
  const { method } = presented;
  let client: AuthenticatedClient;
  if (presented.method === "private_key_jwt") {
    // Not the shape of anything issued here: refused without a call to the object.
    if (!isClientId(presented.clientId)) throw refusedClient(context, presented.clientId, "unknown_client", BASIC);
    // RFC 7523 §3: the assertion's audience is this endpoint, as the client reached it.
    const audience = `${context.url.origin}${TOKEN_PATH}`;
    const result = await callServiceClients(
      async () =>
        (await clients.authenticateAssertion(presented.clientId, presented.assertion, audience)) as AuthenticateResult,
    );
    client = await admittedClient(context, presented.clientId, result, BASIC, method);
  } else {
    client = await authenticateBySecret(context, clients, presented, BASIC, method);
  }

  const scope = grantedScope(fields.scope, client.scopes);
  if (scope === undefined) {
    throw new GatewayError("scope_invalid", { detail: `client ${client.clientId} asked for a scope it does not hold` });
  }
  const issued = await issueServiceToken(context, client, scope, BASIC, method);
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
