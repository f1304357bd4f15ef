/**
 * The test helpers' own sockets: a reset from the other end is a close the test can see,
 * never an uncaught exception that fails the whole run far from its cause.
 */
import http from "node:http";
import net, { type AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { startUpstream } from "../support/upstream";
import { acceptWebSockets, openWebSocket } from "../support/websocket";

const UPGRADE = (host: string) =>
  `GET /ws HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
  "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";

describe("test sockets", () => {
  it("lets the upstream's upgraded socket be reset by its peer without an uncaught error", async () => {
    const upstream = await startUpstream();
    const upgrades: http.IncomingHttpHeaders[] = [];
    acceptWebSockets(upstream.server, upgrades);
    const { host, hostname, port } = new URL(upstream.url);
    const serverSideClosed = new Promise<void>((resolve) =>
      upstream.server.once("upgrade", (_request, socket) => socket.once("close", () => resolve())),
    );
    const client = net.connect(Number(port), hostname);
    client.on("error", () => {});
    client.write(UPGRADE(host));
    await new Promise<void>((resolve) => client.once("data", () => resolve()));
    client.resetAndDestroy();
    await serverSideClosed;
    expect(upgrades).toHaveLength(1);
    await expect(upstream.close()).resolves.toBeUndefined();
  });

  it("reports a reset before the close frame as an abnormal closure (1006) with its cause", async () => {
    const server = http.createServer();
    server.on("upgrade", (_request, socket: net.Socket) => {
      socket.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
      socket.once("data", () => socket.resetAndDestroy());
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const socket = await openWebSocket(`http://127.0.0.1:${port}/ws`, {});
      expect(socket.status).toBe(101);
      const pending = socket.message();
      socket.send("hello");
      expect(await socket.closed).toEqual({ code: 1006, reason: "socket error: connection reset" });
      expect(await pending).toBe("<socket error: connection reset>");
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
