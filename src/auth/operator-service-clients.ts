/**
 * The operator's service-client endpoints (docs/identities.md), authenticated like every
 * operator endpoint (`Authorization: Bearer <OPERATOR_TOKEN>`, operator.ts):
 *
 *   POST   /auth/operator/service-clients              {name, scopes, expires_in, jwk?} → 201, the secret once
 *   GET    /auth/operator/service-clients              the clients, with last use; no secret or hash
 *   POST   /auth/operator/service-clients/:id/rotate   {overlap_seconds, jwk?} → a new secret (or key)
 *   DELETE /auth/operator/service-clients/:id          revoke: its secrets and every token it was given
 *
 * Revoking uses the one revocation mechanism there is: the client's subject (`svc|<id>`)
 * is revoked in the ledger after the object stops accepting its secrets, so every token
 * it was given before is refused, and it can be given none after.
 */
import { importJWK } from "jose";
import { GatewayError } from "../errors/gateway-error";
import type { RequestContext } from "../gateway/request-context";
import { bodyKind, readLimitedText } from "../http/read-body";
import { log } from "../log/logger";
import type { ClientKey } from "../machines/client-key";
import { isClientId } from "../machines/client-secret";
import { type Checked, checkNewClient, checkRotation } from "../machines/service-client-input";
import { type IssuedSecret, type RotateOutcome, serviceSubject } from "../machines/service-client-record";
import type { CreateResult } from "../machines/service-clients";
import { callServiceClients } from "../machines/service-token-grant";
import { authenticateOperator } from "./operator";
import { serviceClientsOf } from "./service-clients";

export const SERVICE_CLIENTS_PATH = "/auth/operator/service-clients";

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}

/** A JSON body, checked by `check`; what is wrong is told to the operator (never a secret: none is in it). */
async function readChecked<T extends { readonly key?: ClientKey }>(
  request: Request,
  check: (body: unknown) => Checked<T>,
): Promise<T> {
  if (bodyKind(request) !== "json") throw new GatewayError("unsupported_media_type");
  let body: unknown;
  try {
    body = JSON.parse(await readLimitedText(request));
  } catch (error) {
    if (error instanceof GatewayError) throw error;
    throw new GatewayError("request_invalid", { detail: "body is not valid JSON", publicDetail: "body is not JSON" });
  }
  const checked = check(body);
  if (!checked.ok) throw new GatewayError("request_invalid", { detail: checked.reason, publicDetail: checked.reason });
  const { key } = checked.value;
  // A public key of the right shape that still does not import (a point off its curve) is refused now, not at every exchange.
  if (key !== undefined) {
    try {
      await importJWK(key.jwk, key.alg);
    } catch {
      const reason = '"jwk" is not a usable public key';
      throw new GatewayError("request_invalid", { detail: reason, publicDetail: reason });
    }
  }
  return checked.value;
}

/** The client id of `/auth/operator/service-clients/<id>[/rotate]`; 404 for anything not an id. */
function clientIdOf(context: RequestContext, suffix = ""): string {
  const id = context.path.slice(SERVICE_CLIENTS_PATH.length + 1, context.path.length - suffix.length);
  if (!isClientId(id)) throw new GatewayError("not_found", { detail: "not a service client id" });
  return id;
}

/** The client's id and expiry, and its new secret (none for a `private_key_jwt` client). */
const secretAnswer = (issued: IssuedSecret) => ({
  client_id: issued.clientId,
  ...(issued.secret === undefined ? {} : { client_secret: issued.secret }),
  expires_at: new Date(issued.expiresAt).toISOString(),
});

const ROTATION_REFUSED: Record<"key_required" | "key_not_taken", string> = {
  key_required: 'a private_key_jwt client is rotated to a new key: send "jwk"',
  key_not_taken: 'a client with a secret is rotated to a new secret: send no "jwk"',
};

export async function handleCreateServiceClient(context: RequestContext, request: Request): Promise<Response> {
  await authenticateOperator(context);
  const clients = serviceClientsOf(context);
  const wanted = await readChecked(request, checkNewClient);
  const created = await callServiceClients(async () => (await clients.create(wanted)) as CreateResult);
  if (!created.ok) {
    const reason = "the deployment holds as many service clients as it may; revoke one first";
    throw new GatewayError("request_invalid", { detail: reason, publicDetail: reason });
  }
  log.security("service_client_created", {
    requestId: context.requestId,
    client_id: created.issued.clientId,
    name: wanted.name,
    scope: wanted.scopes.join(" "),
  });
  return json(201, {
    ...secretAnswer(created.issued),
    auth_method: wanted.key === undefined ? "client_secret" : "private_key_jwt",
    name: wanted.name,
    scopes: wanted.scopes,
  });
}

export async function handleListServiceClients(context: RequestContext): Promise<Response> {
  await authenticateOperator(context);
  const clients = serviceClientsOf(context);
  return json(200, { clients: await callServiceClients(() => clients.list()) });
}

export async function handleRotateServiceClient(context: RequestContext, request: Request): Promise<Response> {
  await authenticateOperator(context);
  const clients = serviceClientsOf(context);
  const clientId = clientIdOf(context, "/rotate");
  const rotation = await readChecked(request, checkRotation);
  const outcome = await callServiceClients(async () => (await clients.rotate(clientId, rotation)) as RotateOutcome);
  if (!outcome.ok) {
    if (outcome.reason === "not_found")
      throw new GatewayError("not_found", { detail: "no live service client of that id" });
    const reason = ROTATION_REFUSED[outcome.reason];
    throw new GatewayError("request_invalid", { detail: reason, publicDetail: reason });
  }
  const { issued } = outcome;
  const previousUntil = issued.previousUntil === null ? null : new Date(issued.previousUntil).toISOString();
  log.security("service_client_rotated", {
    requestId: context.requestId,
    client_id: clientId,
    overlap_seconds: rotation.overlapSeconds,
  });
  return json(200, { ...secretAnswer(issued), previous_secret_expires_at: previousUntil });
}

export async function handleRevokeServiceClient(context: RequestContext): Promise<Response> {
  await authenticateOperator(context);
  const clients = serviceClientsOf(context);
  const clientId = clientIdOf(context);
  const outcome = await callServiceClients(async () => clients.revoke(clientId));
  if (!outcome.found) throw new GatewayError("not_found", { detail: "no service client of that id" });
  // Recorded again for a client revoked before: a revoke whose ledger call failed is finished by repeating it.
  const { accessTokenTtl, clockToleranceSeconds } = context.config;
  await context.revocations.revokeSubject(serviceSubject(clientId), accessTokenTtl + clockToleranceSeconds, "operator");
  context.metrics.record("revocation", "subject", "operator");
  log.security("service_client_revoked", { requestId: context.requestId, client_id: clientId, again: outcome.already });
  return json(200, { revoked: "service_client", client_id: clientId });
}
