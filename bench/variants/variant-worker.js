/**
 * One Worker, several ways of forwarding a request (env.VARIANT), each a piece of what
 * the gateway does on top of a bare pass-through. `npm run bench:variants` runs each in a
 * workerd of its own and compares their CPU per request with the bare one.
 */
const DROPPED = new Set([
  "connection",
  "keep-alive",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "cookie",
  "cf-connecting-ip",
]);
const HOP_BY_HOP = ["keep-alive", "proxy-connection", "transfer-encoding", "trailer"];

/** Whether a request header goes upstream (the gateway's filter, in short). */
function forwarded(name) {
  return !DROPPED.has(name) && !name.startsWith("x-auth-") && !name.startsWith("x-portcullis-");
}

/** The forwarding and identity headers every record variant adds. */
function withGatewayHeaders(headers, url) {
  headers["x-forwarded-proto"] = url.protocol.slice(0, -1);
  headers["x-forwarded-host"] = url.host;
  headers["x-auth-subject"] = "user-7";
  headers["x-auth-session"] = "AAAAAAAAAAAAAAAAAAAAAA";
  return headers;
}

/** The gateway's way: one pass over the incoming headers into a record, plus forwarding and identity headers. */
function headerRecord(request, url) {
  const headers = Object.create(null);
  for (const [name, value] of request.headers) {
    if (forwarded(name)) headers[name] = value;
  }
  return withGatewayHeaders(headers, url);
}

/** The same record, read with one `forEach` call (the runtime calls back per header) instead of an iterator. */
function headerRecordByForEach(request, url) {
  const headers = Object.create(null);
  request.headers.forEach((value, name) => {
    if (forwarded(name)) headers[name] = value;
  });
  return withGatewayHeaders(headers, url);
}

/** The same record as an ordinary object (fast properties, a shape V8 can cache), not a prototype-less one. */
function plainHeaderRecord(request, url) {
  const headers = {};
  for (const [name, value] of request.headers) {
    if (forwarded(name)) headers[name] = value;
  }
  return withGatewayHeaders(headers, url);
}

/** The same headers as edits of a copy the runtime makes natively. */
function editedCopy(request, url) {
  const headers = new Headers(request.headers);
  for (const name of [...request.headers.keys()]) {
    if (!forwarded(name)) headers.delete(name);
  }
  headers.set("x-forwarded-proto", url.protocol.slice(0, -1));
  headers.set("x-forwarded-host", url.host);
  headers.set("x-auth-subject", "user-7");
  headers.set("x-auth-session", "AAAAAAAAAAAAAAAAAAAAAA");
  return headers;
}

/**
 * The incoming headers read once (as the gateway must, to learn what is there), then the
 * request sent as a native copy of itself with the gateway's headers set on the copy.
 */
function editedRequest(request, target, url) {
  headerRecord(request, url);
  const forwarded = new Request(target, request);
  const headers = forwarded.headers;
  headers.set("x-forwarded-proto", url.protocol.slice(0, -1));
  headers.set("x-forwarded-host", url.host);
  headers.set("x-auth-subject", "user-7");
  headers.set("x-auth-session", "AAAAAAAAAAAAAAAAAAAAAA");
  return forwarded;
}

async function withDeadline(pending) {
  let expire;
  const deadline = new Promise((resolve) => {
    expire = resolve;
  });
  const timer = setTimeout(expire, 30_000, "timeout");
  try {
    return await Promise.race([pending, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** The deadline's timer is left to the runtime, which drops a request's timers when it completes. */
async function withUnclearedDeadline(pending) {
  let expire;
  const deadline = new Promise((resolve) => {
    expire = resolve;
  });
  setTimeout(expire, 30_000, "timeout");
  return Promise.race([pending, deadline]);
}

function rewrapped(response) {
  const answer = new Response(response.body, response);
  for (const name of HOP_BY_HOP) answer.headers.delete(name);
  answer.headers.set("x-request-id", "0123456789abcdef01234567000000000001");
  return answer;
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const target = `${env.UPSTREAM_URL}${url.pathname}${url.search}`;
    const init = (headers) => ({ method: request.method, headers, body: null, redirect: "manual" });
    switch (env.VARIANT) {
      case "bare":
        return fetch(target, request);
      case "rewrap":
        return rewrapped(await fetch(target, request));
      case "rewrap-only": {
        const response = await fetch(target, request);
        return new Response(response.body, response);
      }
      case "probe": {
        // Asking whether hop-by-hop headers are there, without re-wrapping.
        const response = await fetch(target, request);
        const headers = response.headers;
        if (headers.has("connection")) return rewrapped(response);
        for (const name of HOP_BY_HOP) if (headers.has(name)) return rewrapped(response);
        return response;
      }
      case "timer":
        return withDeadline(fetch(target, request));
      case "timer-unclear":
        return withUnclearedDeadline(fetch(target, request));
      case "signal-timeout":
        // The platform's own timer; but the signal governs the body too.
        return fetch(target, { method: request.method, headers: request.headers, signal: AbortSignal.timeout(30_000) });
      case "record":
        return fetch(target, init(headerRecord(request, url)));
      case "read-only":
        // Reading the headers into a record, without sending it: the cost of the read alone.
        headerRecord(request, url);
        return fetch(target, request);
      case "record-plain":
        return fetch(target, init(plainHeaderRecord(request, url)));
      case "record-foreach":
        return fetch(target, init(headerRecordByForEach(request, url)));
      case "request-edit":
        return fetch(editedRequest(request, target, url));
      case "copy":
        return fetch(target, init(editedCopy(request, url)));
      case "all":
        return rewrapped(await withDeadline(fetch(target, init(headerRecord(request, url)))));
      default:
        return new Response("unknown variant", { status: 500 });
    }
  },
};
