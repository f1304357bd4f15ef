/**
 * Every answer carries `X-Request-Id`. Where the answer's mutable headers are already at
 * hand (forwarding re-wraps the upstream's answer), the id is set there, so the envelope
 * need not ask the runtime for the headers a second time: each property of a `Response`
 * is a call into the runtime, 2–3 µs under load.
 *
 * The envelope learns that an answer was stamped from one slot, the answer stamped last,
 * not from a set of every stamped answer (a WeakSet entry per request is work for the
 * garbage collector). Requests of an isolate interleave, so the slot may hold another
 * request's answer by then: that answer is then stamped a second time, with the same id,
 * which costs one call and changes nothing. An answer never found there is always stamped.
 */
const REQUEST_ID_HEADER = "x-request-id";

let stampedLast: Response | undefined;

/** Set the id on `response`, whose own (mutable) headers are `headers`. */
export function stampRequestId(response: Response, headers: Headers, requestId: string): void {
  headers.set(REQUEST_ID_HEADER, requestId);
  stampedLast = response;
}

/** Make sure `response` carries the id: set it unless `stampRequestId` did just now. */
export function ensureRequestId(response: Response, requestId: string): void {
  if (response === stampedLast) {
    stampedLast = undefined;
    return;
  }
  response.headers.set(REQUEST_ID_HEADER, requestId);
}
