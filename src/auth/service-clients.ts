/**
 * Reaching the ServiceClients object (machines/service-clients.ts) from an endpoint: the
 * feature is off, and its endpoints answer 404, where SERVICE_CLIENTS is not bound; a
 * failing call is a 503, never a 500 (machines/service-token-grant.ts's callServiceClients).
 */
import { GatewayError } from "../errors/gateway-error";
import type { RequestContext } from "../gateway/request-context";
import { SERVICE_CLIENTS_INSTANCE } from "../machines/service-client-record";
import type { ServiceClientsStub } from "../machines/service-token-grant";

/** The one ServiceClients object, or 404 when the deployment does not bind SERVICE_CLIENTS. */
export function serviceClientsOf(context: RequestContext): ServiceClientsStub {
  const namespace = context.env.SERVICE_CLIENTS;
  if (namespace === undefined) {
    throw new GatewayError("not_found", { detail: "service clients are off (no SERVICE_CLIENTS binding)" });
  }
  return namespace.get(namespace.idFromName(SERVICE_CLIENTS_INSTANCE));
}
