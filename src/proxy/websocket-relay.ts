/**
 * Relays an authenticated WebSocket between the client and the upstream, so the gateway
 * can end it when its authorization ends:
 *
 * - at the `exp` of the access token that opened it (close 1008 "access token expired";
 *   the client reconnects with a fresh token), and
 * - when the token, its session or its subject is revoked, checked every
 *   WEBSOCKET_REVALIDATE_SECONDS (close 1008 "revoked"). If the check itself fails
 *   (KV down), the socket is closed too (1011): fail closed.
 */
import { log } from "../log/logger";

export interface RelayOptions {
  /** Milliseconds since the epoch when the socket's authorization ends. */
  readonly expiresAt: number;
  readonly revalidateMs: number;
  readonly now: () => number;
  /** Resolves true when the socket's token has been revoked since it opened. */
  readonly isRevoked: () => Promise<boolean>;
  readonly requestId: string;
}

// Codes that may be received but must not be sent in a close frame (RFC 6455 §7.4.1).
const RESERVED = new Set([1005, 1006, 1015]);

export function relayWebSocket(upstream: WebSocket, headers: Headers, options: RelayOptions): Response {
  const pair = new WebSocketPair();
  const client = pair[0];
  const edge = pair[1];
  edge.accept();
  upstream.accept();

  let open = true;
  const timers: Array<ReturnType<typeof setTimeout>> = [];
  const close = (code: number, reason: string) => {
    if (!open) return;
    open = false;
    for (const timer of timers) clearTimeout(timer);
    const sendable = RESERVED.has(code) ? 1000 : code;
    for (const socket of [edge, upstream]) {
      try {
        socket.close(sendable, reason);
      } catch {
        // already closing
      }
    }
  };

  edge.addEventListener("message", (event) => open && upstream.send(event.data));
  upstream.addEventListener("message", (event) => open && edge.send(event.data));
  edge.addEventListener("close", (event) => close(event.code, event.reason));
  upstream.addEventListener("close", (event) => close(event.code, event.reason));
  edge.addEventListener("error", () => close(1011, "client error"));
  upstream.addEventListener("error", () => close(1011, "upstream error"));

  timers.push(
    setTimeout(
      () => {
        log.info("websocket_closed", { requestId: options.requestId, reason: "token_expired" });
        close(1008, "access token expired");
      },
      Math.max(0, options.expiresAt - options.now()),
    ),
  );
  const revalidate = async () => {
    if (!open) return;
    try {
      if (await options.isRevoked()) {
        log.security("websocket_closed", { requestId: options.requestId, reason: "revoked" });
        close(1008, "revoked");
        return;
      }
    } catch {
      log.warn("websocket_closed", { requestId: options.requestId, reason: "revocation_check_failed" });
      close(1011, "authorization check unavailable");
      return;
    }
    timers.push(setTimeout(revalidate, options.revalidateMs));
  };
  timers.push(setTimeout(revalidate, options.revalidateMs));

  return new Response(null, { status: 101, webSocket: client, headers });
}
