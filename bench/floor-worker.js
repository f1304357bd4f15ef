/**
 * The forwarding floor: what the gateway's contract makes every proxied answer cost, with
 * no token work at all. It does what any answer of the gateway must (README, "The
 * contract", and src/proxy), written plainly, as any Worker proxy would:
 *
 * - the request's headers read once into a record, every spelling of the hop-by-hop,
 *   forwarding, client-address and `X-Auth-*` headers dropped, `X-Forwarded-Proto` / `-Host`
 *   and identity headers set;
 * - the wait for the answer's headers bounded by one timer;
 * - the answer re-wrapped, what the upstream may not send removed (hop-by-hop headers,
 *   `Authorization`, the gateway's cookies) and `X-Request-Id` set.
 *
 * It drops the headers the gateway drops, with the gateway's own functions, so the bench
 * bundles it (bundle-scripts.ts, to dist/bench/floor-worker.mjs). It does not canonicalize
 * the path: that is the gateway's decision, measured as part of the valid-token row.
 *
 * `npm run bench` runs it beside the bare pass-through (row `floor`): the valid-token row
 * over this one is what reading, verifying and checking the token costs; this one over
 * bare is what forwarding faithfully costs before any of that.
 */
import { filterUpstreamAnswer } from "../src/proxy/upstream-answer";
import { headerKey, isDroppedRequestHeader } from "../src/proxy/upstream-request";

const TIMEOUT_MS = 30_000;

let idPrefix;
let sequence = 0;

/** The upstream's headers: the forwardable ones, then the gateway's own (values shaped like a session's). */
function upstreamHeaders(request, url) {
  const headers = Object.create(null);
  for (const [name, value] of request.headers) {
    if (!isDroppedRequestHeader(headerKey(name))) headers[name] = value;
  }
  headers["x-forwarded-proto"] = url.protocol.slice(0, -1);
  headers["x-forwarded-host"] = url.host;
  headers["x-auth-subject"] = "user-7";
  headers["x-auth-session"] = "AAAAAAAAAAAAAAAAAAAAAA";
  headers["x-auth-scopes"] = "read";
  return headers;
}

/** The send, its wait bounded by one timer that is cleared when the answer's headers arrive. */
function sendWithin(target, init) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("upstream timeout")), TIMEOUT_MS);
    fetch(target, init).then(
      (response) => {
        clearTimeout(timer);
        resolve(response);
      },
      (error) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

function answerOf(response, requestId) {
  const answer = new Response(response.body, response);
  filterUpstreamAnswer(answer.headers);
  answer.headers.set("x-request-id", requestId);
  return answer;
}

export default {
  /** Also `bench/variants`' "all", which measures the same forwarding on its own. */
  fetch(request, env) {
    idPrefix ??= crypto.randomUUID().slice(0, 24);
    sequence++;
    const requestId = idPrefix + sequence.toString(16).padStart(12, "0");
    const url = new URL(request.url);
    const method = request.method;
    const init = {
      method,
      headers: upstreamHeaders(request, url),
      body: method === "GET" || method === "HEAD" ? null : request.body,
      redirect: "manual",
    };
    return sendWithin(`${env.UPSTREAM_URL}${url.pathname}${url.search}`, init).then((response) =>
      answerOf(response, requestId),
    );
  },
};
