/**
 * The envelope around every request the Worker serves, whichever handler answers it:
 *
 * - the request context is built once (config, keys, stores, the parsed URL, the id), with
 *   the request's canonical form; a request without one is refused before anything else;
 * - a development config serves only loopback hosts;
 * - every failure is answered through `answerError` (the one error mapping);
 * - every answer carries `X-Request-Id` (forwarding sets it on the answer it re-wraps);
 * - a request body nobody read is drained, so the client's connection stays usable.
 *
 * A plain function of (env, request, handler): the Worker's entry point and a Hono
 * middleware can both call it.
 */
import { assertServable } from "../config/development-guard";
import { discardUnreadBody } from "../http/read-body";
import { ensureRequestId } from "../http/request-id";
import { answerError } from "./answer-error";
import { assertCanonicalRequest } from "./canonical-request";
import type { Env } from "./env";
import { type RequestContext, type RequestContextOptions, requestContext } from "./request-context";

export type ContextHandler = (context: RequestContext, request: Request) => Promise<Response>;

/** A request's context, or the promise of it (the isolate's first request imports the keys). */
export type MadeContext = RequestContext | Promise<RequestContext>;

/**
 * The envelope itself, for any way of building the context: `makeContext` may throw (a
 * bad config, a development config on a public host), and that too is answered through
 * the one mapping.
 */
export async function serveWithContext(
  request: Request,
  makeContext: () => MadeContext,
  handle: ContextHandler,
): Promise<Response> {
  let context: RequestContext | undefined;
  let response: Response;
  try {
    const made = makeContext();
    context = made instanceof Promise ? await made : made;
    response = await handle(context, request);
    ensureRequestId(response, context.requestId);
  } catch (error) {
    response = await answerError(error, context, request);
  }
  if (mayHaveBody(context, request)) await discardUnreadBody(request);
  return response;
}

/** Each property of a Request is a call into the runtime: a GET or HEAD without framing headers has no body to ask about. */
function mayHaveBody(context: RequestContext | undefined, request: Request): boolean {
  if (context !== undefined && !context.incoming.framed && (context.method === "GET" || context.method === "HEAD")) {
    return false;
  }
  return request.body !== null;
}

const NO_OPTIONS: RequestContextOptions = Object.freeze({});

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
    () => {
      const made = requestContext(env, request, execution === undefined ? NO_OPTIONS : { execution });
      return made instanceof Promise ? made.then(servable) : servable(made);
    },
    (context, raw) => {
      // Step 0: one canonical form, or a 400 before anything else happens.
      assertCanonicalRequest(context);
      return handle(context, raw);
    },
  );
}

function servable(context: RequestContext): RequestContext {
  assertServable(context.config, context.url);
  return context;
}
