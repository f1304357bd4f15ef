/**
 * Errors on the sockets that test servers and clients own. A socket without an 'error'
 * listener turns a reset into an uncaught exception that fails the whole run, far from
 * the test that caused it. Here a peer that went away (a reset or a broken pipe) counts
 * as a close, and anything else is kept so the owner can fail its test with a message.
 */
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";

const PEER_GONE = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED"]);

/** True for an error that only says the other end closed the connection abruptly. */
export function isPeerGone(error: Error): boolean {
  return PEER_GONE.has((error as NodeJS.ErrnoException).code ?? "");
}

/** An HTTP parser error (`HPE_*`): Node's HTTP server answers it itself (400, 431). */
function isAnsweredByHttpServer(error: Error): boolean {
  return ((error as NodeJS.ErrnoException).code ?? "").startsWith("HPE_");
}

/** Collects the unexpected errors of every socket it watches. */
export class SocketErrors {
  readonly unexpected: Error[] = [];

  /** Handle `socket`'s errors: destroy it, and keep the error unless the peer just left. */
  watch(socket: Socket | Duplex): void {
    socket.on("error", (error: Error) => {
      if (isAnsweredByHttpServer(error)) return;
      if (!isPeerGone(error)) this.unexpected.push(error);
      socket.destroy();
    });
  }

  /** Throws with every unexpected error's message, if there were any. */
  assertNone(owner: string): void {
    if (this.unexpected.length === 0) return;
    const messages = this.unexpected.map(
      (error) => `${(error as NodeJS.ErrnoException).code ?? error.name}: ${error.message}`,
    );
    throw new Error(`${owner} saw unexpected socket errors: ${messages.join("; ")}`);
  }
}
