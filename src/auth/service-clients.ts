/**
 * Reaching the ServiceClients object (machines/service-clients.ts) from an endpoint: the
 * feature is off, and its endpoints answer 404, where SERVICE_CLIENTS is not bound; a
 * failing call is a 503, never a 500.
 */
import { GatewayError } from "../errors/gateway-error";
import type { RequestContext } from "../gateway/request-context";
import { SERVICE_CLIENTS_INSTANCE } from "../machines/service-client-record";
import type { ServiceClients } from "../machines/service-clients";

export type ServiceClientsStub = DurableObjectStub<ServiceClients>;

/** The one ServiceClients object, or 404 when the deployment does not bind SERVICE_CLIENTS. */
export function serviceClientsOf(context: RequestContext): ServiceClientsStub {
  const namespace = context.env.SERVICE_CLIENTS;
  if (namespace === undefined) {
    throw new GatewayError("not_found", { detail: "service clients are off (no SERVICE_CLIENTS binding)" });
  }
  return namespace.get(namespace.idFromName(SERVICE_CLIENTS_INSTANCE));
}

/** One call to the object; its failure is `service_clients_unavailable` (503). */
export async function callServiceClients<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw new GatewayError("service_clients_unavailable", { detail: "ServiceClients call failed", cause: error });
  }
}
