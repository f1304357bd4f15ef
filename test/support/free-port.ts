/**
 * A loopback port that nothing listens on right now, for servers whose address must be known
 * before they start (wrangler dev's --port; a gateway whose URL an IdP must register first).
 * Between choosing a port and binding it, another process on the machine (a parallel test
 * file's miniflare, say) may take it: `retryOnPortClash` starts again with new ports then.
 */
import { createServer } from "node:net";

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

const PORT_CLASH = /address already in use|EADDRINUSE/i;

/**
 * Runs `start` (which chooses its ports with `freePort`) and, when it fails because a port
 * it chose was taken in the meantime, runs it again with fresh ones, up to `attempts`
 * times. Any other failure is thrown at once.
 */
export async function retryOnPortClash<T>(start: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await start();
    } catch (error) {
      if (attempt >= attempts || !PORT_CLASH.test(String((error as Error)?.message ?? error))) throw error;
    }
  }
}
