/**
 * Every answer carries `X-Request-Id`. Where the answer's mutable headers are already at
 * hand (forwarding re-wraps the upstream's answer), the id is set there and the answer
 * marked, so the envelope does not ask the runtime for the headers a second time: each
 * property of a `Response` is a call into the runtime, 2–3 µs under load.
 */
export const REQUEST_ID_HEADER = "x-request-id";

const stamped = new WeakSet<Response>();

/** Set the id on `response`, whose own (mutable) headers are `headers`. */
export function stampRequestId(response: Response, headers: Headers, requestId: string): void {
  headers.set(REQUEST_ID_HEADER, requestId);
  stamped.add(response);
}

/** Make sure `response` carries the id: set it unless `stampRequestId` already did. */
export function ensureRequestId(response: Response, requestId: string): void {
  if (!stamped.has(response)) response.headers.set(REQUEST_ID_HEADER, requestId);
}
