/**
 * The envelope around every request the Worker serves, whichever handler answers it:
 *
 * - the request context is built once (config, keys, stores, the parsed URL, the id);
 * - a development config serves only loopback hosts;
 * - every failure is answered through `answerError` (the one error mapping);
 * - every answer carries `X-Request-Id`;
 * - a request body nobody read is drained, so the client's connection stays usable.
 *
 * A plain function of (env, request, handler): the Worker's entry point and a Hono
 * middleware can both call it.
 */
import { assertServable } from "../config/development-guard";
import type { Env } from "../config/env";
import { discardUnreadBody } from "../http/read-body";
import { answerError } from "./answer-error";
import { createRequestContext, type RequestContext } from "./request-context";

export type ContextHandler = (context: RequestContext, request: Request) => Promise<Response>;

/**
 * The envelope itself, for any way of building the context: `makeContext` may throw (a
 * bad config, a development config on a public host), and that too is answered through
 * the one mapping.
 */
export async function serveWithContext(
  request: Request,
  makeContext: () => Promise<RequestContext>,
  handle: ContextHandler,
): Promise<Response> {
  let context: RequestContext | undefined;
  let response: Response;
  try {
    context = await makeContext();
    response = await handle(context, request);
    response.headers.set("x-request-id", context.requestId);
  } catch (error) {
    response = await answerError(error, context, request);
  }
  if (request.body !== null) await discardUnreadBody(request);
  return response;
}

/** The standalone Worker's envelope: the context from its own env. */
export function serveRequest(
  env: Env,
  request: Request,
  handle: ContextHandler,
  /** The platform's ExecutionContext: work after the answer (metrics). */
  execution?: Pick<ExecutionContext, "waitUntil">,
): Promise<Response> {
  return serveWithContext(
    request,
    async () => {
      const context = await createRequestContext(env, request, execution === undefined ? {} : { execution });
      assertServable(context.config, request.url);
      return context;
    },
    handle,
  );
}
