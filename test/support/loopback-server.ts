/**
 * An HTTP server on 127.0.0.1 for the tests' stand-ins (identity providers), keeping its
 * sockets so a test can cut every connection at once (a provider going down).
 *
 *   const loopback = await loopbackServer((request, response) => handler(request, response));
 *   loopback.origin        // http://127.0.0.1:<port>
 *   await loopback.stop()  // connections cut, port closed; loopback.listen() opens it again
 */
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";

export interface LoopbackServer {
  readonly server: http.Server;
  readonly port: number;
  readonly origin: string;
  /** Destroys every open connection (the server keeps listening). */
  cutConnections(): void;
  /** Cuts the connections and closes the port. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  listen(): Promise<void>;
}

export async function loopbackServer(listener: http.RequestListener): Promise<LoopbackServer> {
  const sockets = new Set<Socket>();
  const server = http.createServer(listener);
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("error", () => socket.destroy());
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const cutConnections = () => {
    for (const socket of sockets) socket.destroy();
  };
  return {
    server,
    port,
    origin: `http://127.0.0.1:${port}`,
    cutConnections,
    stop: async () => {
      cutConnections();
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    listen: async () => {
      if (server.listening) return;
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, "127.0.0.1", () => {
          server.off("error", reject);
          resolve();
        });
      });
    },
  };
}
