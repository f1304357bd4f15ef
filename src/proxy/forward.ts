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
import { stampRequestId } from "../http/request-id";
import { filterUpstreamAnswer } from "./upstream-answer";

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

/** The path the upstream receives for a request's path: UPSTREAM_URL's base path before it. */
export function upstreamPath(upstream: Upstream, path: string): string {
  const target = upstream.config.upstream;
  return target.kind === "url" ? `${target.basePath}${path}` : path;
}

const IDEMPOTENT_METHODS = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);
/** Resends after the first attempt, for connection failures before any answer. */
export const MAX_RESENDS = 3;

/** Whether a failed send may be repeated: idempotent, and no body that could have been consumed. */
export function mayResend(init: RequestInit): boolean {
  return (init.body ?? null) === null && IDEMPOTENT_METHODS.has(init.method ?? "GET");
}

type Send = (url: string, init: RequestInit) => Promise<Response>;

/**
 * Send `init` to `url` on the upstream. One timer bounds the wait for the answer's
 * headers and is cleared as soon as they arrive. No AbortController: the signal of a
 * fetch also governs its body, so `AbortSignal.timeout` would cut off a long download
 * (measured in workerd), and a controller of our own costs a native object per request
 * for a case that needs none. A send given up at the deadline is cancelled by the runtime
 * when this request's answer (the 504) is complete.
 *
 * `webSocket`: the request asked for an upgrade, so the answer may be a WebSocket.
 * `requestId`: set as the answer's `X-Request-Id` while its headers are at hand.
 */
export function sendUpstream(
  upstream: Upstream,
  url: string,
  init: RequestInit,
  webSocket = false,
  requestId?: string,
): Promise<Response> {
  return new Promise<Response>((resolve, reject) => {
    new UpstreamSend(upstream, url, init, webSocket, requestId, resolve, reject).attempt();
  });
}

/**
 * One send and its resends, settled once: by the answer, by a failure that is not resent,
 * or by the deadline. A class rather than closures: the bundler keeps function names
 * (wrangler's `keep_names`), which costs a property definition for every named closure
 * made per request; methods are named once, and the callbacks below are anonymous.
 */
class UpstreamSend {
  readonly #send: Send;
  readonly #url: string;
  readonly #init: RequestInit;
  readonly #webSocket: boolean;
  readonly #requestId: string | undefined;
  readonly #resolve: (response: Response) => void;
  readonly #reject: (error: unknown) => void;
  readonly #timer: ReturnType<typeof setTimeout>;
  #settled = false;
  #resends = 0;

  constructor(
    upstream: Upstream,
    url: string,
    init: RequestInit,
    webSocket: boolean,
    requestId: string | undefined,
    resolve: (response: Response) => void,
    reject: (error: unknown) => void,
  ) {
    const { config, binding } = upstream;
    this.#send = config.upstream.kind === "binding" && binding ? binding.fetch.bind(binding) : fetch;
    this.#url = url;
    this.#init = init;
    this.#webSocket = webSocket;
    this.#requestId = requestId;
    this.#resolve = resolve;
    this.#reject = reject;
    const timeoutMs = config.upstreamTimeoutMs;
    this.#timer = setTimeout(() => {
      if (this.#settle()) {
        this.#reject(new GatewayError("upstream_timeout", { detail: `no response within ${timeoutMs} ms` }));
      }
    }, timeoutMs);
  }

  attempt(): void {
    if (this.#settled) return;
    // Called as a plain function: the runtime's fetch refuses any other `this`.
    const send = this.#send;
    let sent: Promise<Response>;
    try {
      sent = send(this.#url, this.#init);
    } catch (error) {
      // A send that throws instead of rejecting is the same failure: answered, not left hanging.
      this.#failed(error);
      return;
    }
    sent.then(
      (response) => this.#answered(response),
      (error: unknown) => this.#failed(error),
    );
  }

  /** Claims the outcome: true for the first caller only, and the timer is then done with. */
  #settle(): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    clearTimeout(this.#timer);
    return true;
  }

  #answered(response: Response): void {
    if (!this.#settle()) return;
    try {
      this.#resolve(answerOf(response, this.#webSocket, this.#requestId));
    } catch (error) {
      this.#reject(error);
    }
  }

  #failed(error: unknown): void {
    if (this.#settled) return;
    // No answer arrived: the connection failed before the upstream said anything.
    const retryable = (error as { retryable?: unknown } | null)?.retryable === true;
    if (retryable && this.#resends < MAX_RESENDS && mayResend(this.#init)) {
      this.#resends++;
      // Back to the event loop first, so the runtime sees the closes that are already
      // waiting on other pooled connections instead of picking one of those next.
      setTimeout(() => this.attempt(), 0);
      return;
    }
    if (this.#settle()) {
      this.#reject(new GatewayError("upstream_unreachable", { detail: (error as Error)?.message, cause: error }));
    }
  }
}

/** The upstream's answer with mutable headers (for the gateway's own additions); the body stays a stream. */
function answerOf(response: Response, webSocket: boolean, requestId: string | undefined): Response {
  if (webSocket && response.webSocket) {
    const headers = new Headers(response.headers);
    filterUpstreamAnswer(headers);
    return new Response(null, { status: 101, webSocket: response.webSocket, headers });
  }
  const answer = new Response(response.body, response);
  const headers = answer.headers;
  filterUpstreamAnswer(headers);
  if (requestId !== undefined) stampRequestId(answer, headers, requestId);
  return answer;
}
