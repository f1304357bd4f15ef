/**
 * Sends a request to the upstream and hands its answer back as a stream.
 *
 * The timeout covers the wait for the upstream's response headers (a slow first byte),
 * not the body: a 100 MB download is not cut off. Connection failures map to 502, the
 * timeout to 504 (both `application/problem+json` via the error mapping).
 *
 * Resending, as Envoy and nginx do: a pooled keep-alive connection that the upstream
 * closed while it sat idle fails the next request sent on it ("Network connection
 * lost.", which workerd marks `retryable`), before any byte of an answer. A request that
 * is idempotent (RFC 9110 §9.2.2) and has no body is sent again, within the same
 * deadline, at most MAX_RESENDS times, each after a turn of the event loop: under load
 * several pooled connections can have gone stale at once, and a busy runtime has not yet
 * read their closes (measured: one immediate resend left 1 in 6,753 refreshes answering
 * 502 at load 10, three immediate resends 1 in 4,600). A request with a body is never
 * resent: its body may already have been streamed, and cannot be sent twice.
 */
import type { GatewayConfig } from "../config/config";
import { GatewayError } from "../errors/gateway-error";

export interface Upstream {
  readonly config: GatewayConfig;
  /** The UPSTREAM service binding, when the upstream is reached that way. */
  readonly binding: Fetcher | undefined;
}

/** The upstream URL for an incoming request URL (path and query kept as sent). */
export function upstreamUrl(upstream: Upstream, incoming: URL, path = incoming.pathname + incoming.search): string {
  const target = upstream.config.upstream;
  if (target.kind === "none") {
    throw new GatewayError("misconfigured", { detail: "UPSTREAM_URL: is required to reach an upstream" });
  }
  // With a service binding the host is nominal; the binding decides where it goes.
  if (target.kind === "binding") return `${incoming.protocol}//${incoming.host}${path}`;
  return `${target.origin}${target.basePath}${path}`;
}

/**
 * Hop-by-hop response headers (RFC 9110 §7.6.1), which describe the upstream's connection,
 * not the client's. workerd passes them through from `fetch` (measured: `connection`,
 * `te`, `trailer`, `transfer-encoding`, `upgrade` all reach the Worker), so they are
 * dropped here, with every header the `Connection` header names.
 */
const HOP_BY_HOP_RESPONSE = [
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
];
const IDEMPOTENT_METHODS = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);
/** Resends after the first attempt, for connection failures before any answer. */
export const MAX_RESENDS = 3;

/** Whether a failed send may be repeated: idempotent, and no body that could have been consumed. */
export function mayResend(init: RequestInit): boolean {
  return (init.body ?? null) === null && IDEMPOTENT_METHODS.has(init.method ?? "GET");
}

type Send = (url: string, init: RequestInit) => Promise<Response>;

/** What the deadline resolves to when it passes first. */
const TIMED_OUT = Symbol("upstream timeout");

/** A send that has been given up (its deadline passed): no further resends. */
interface Attempt {
  abandoned: boolean;
}

async function sendResending(send: Send, url: string, init: RequestInit, attempt: Attempt): Promise<Response> {
  for (let resends = 0; ; resends++) {
    try {
      return await send(url, init);
    } catch (error) {
      // No answer arrived: the connection failed before the upstream said anything.
      const retryable = (error as { retryable?: unknown } | null)?.retryable === true;
      if (attempt.abandoned || !retryable || resends >= MAX_RESENDS || !mayResend(init)) throw error;
      // Back to the event loop first, so the runtime sees the closes that are already
      // waiting on other pooled connections instead of picking one of those next.
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }
}

/**
 * Send `init` to `url` on the upstream. One timer bounds the wait for the answer's
 * headers and is cleared as soon as they arrive. No AbortController: the signal of a
 * fetch also governs its body, so `AbortSignal.timeout` would cut off a long download
 * (measured in workerd), and a controller of our own costs a native object per request
 * for a case that needs none. A send given up at the deadline is cancelled by the runtime
 * when this request's answer (the 504) is complete.
 */
export async function sendUpstream(upstream: Upstream, url: string, init: RequestInit): Promise<Response> {
  const { config, binding } = upstream;
  const send: Send = config.upstream.kind === "binding" && binding ? (to, what) => binding.fetch(to, what) : fetch;
  const attempt: Attempt = { abandoned: false };
  let expire!: (value: typeof TIMED_OUT) => void;
  const deadline = new Promise<typeof TIMED_OUT>((resolve) => {
    expire = resolve;
  });
  const timer = setTimeout(expire, config.upstreamTimeoutMs, TIMED_OUT);
  let response: Response | typeof TIMED_OUT;
  try {
    response = await Promise.race([sendResending(send, url, init, attempt), deadline]);
  } catch (error) {
    throw new GatewayError("upstream_unreachable", { detail: (error as Error)?.message, cause: error });
  } finally {
    clearTimeout(timer);
  }
  if (response === TIMED_OUT) {
    attempt.abandoned = true;
    throw new GatewayError("upstream_timeout", { detail: `no response within ${config.upstreamTimeoutMs} ms` });
  }
  // Re-wrap so headers are mutable for the gateway's own additions; the body stays a stream.
  if (response.webSocket) {
    return new Response(null, { status: 101, webSocket: response.webSocket, headers: response.headers });
  }
  const answer = new Response(response.body, response);
  const headers = answer.headers;
  const connection = headers.get("connection");
  if (connection !== null) {
    for (const option of connection.split(",")) {
      const name = option.trim().toLowerCase();
      if (name !== "") headers.delete(name);
    }
  }
  for (const name of HOP_BY_HOP_RESPONSE) headers.delete(name);
  return answer;
}
