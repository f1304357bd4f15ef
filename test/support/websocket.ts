/**
 * Just enough RFC 6455 for tests: an upstream that accepts WebSocket upgrades and echoes
 * text frames, and a client that upgrades through the gateway with custom headers.
 */
import { createHash, randomBytes } from "node:crypto";
import http from "node:http";
import type { Duplex } from "node:stream";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

function acceptKey(key: string): string {
  return createHash("sha1")
    .update(key + GUID)
    .digest("base64");
}

function frame(text: string, masked: boolean): Buffer {
  const payload = Buffer.from(text, "utf8");
  if (payload.length > 125) throw new Error("test frames are short");
  const header = Buffer.from([0x81, (masked ? 0x80 : 0) | payload.length]);
  if (!masked) return Buffer.concat([header, payload]);
  const mask = randomBytes(4);
  const body = Buffer.from(payload.map((byte, index) => byte ^ (mask[index % 4] as number)));
  return Buffer.concat([header, mask, body]);
}

function readText(data: Buffer): string | undefined {
  if (data.length < 2) return undefined;
  const masked = ((data[1] as number) & 0x80) !== 0;
  const length = (data[1] as number) & 0x7f;
  const start = masked ? 6 : 2;
  const payload = data.subarray(start, start + length);
  if (!masked) return payload.toString("utf8");
  const mask = data.subarray(2, 6);
  return Buffer.from(payload.map((byte, index) => byte ^ (mask[index % 4] as number))).toString("utf8");
}

/** Make `server` accept upgrades and echo "echo: <text>"; records the upgrade headers. */
export function acceptWebSockets(server: http.Server, seen: http.IncomingHttpHeaders[]): void {
  server.on("upgrade", (request: http.IncomingMessage, socket: Duplex) => {
    seen.push(request.headers);
    const key = String(request.headers["sec-websocket-key"]);
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key)}\r\n\r\n`,
    );
    socket.on("data", (data: Buffer) => {
      const text = readText(data);
      if (text !== undefined) socket.write(frame(`echo: ${text}`, false));
    });
  });
}

/** Upgrade through `url`, send one text message, return the status and the reply. */
export function webSocketRoundTrip(
  url: string,
  headers: Record<string, string>,
  message: string,
): Promise<{ status: number; reply?: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, {
      headers: {
        connection: "Upgrade",
        upgrade: "websocket",
        "sec-websocket-version": "13",
        "sec-websocket-key": randomBytes(16).toString("base64"),
        ...headers,
      },
    });
    request.on("upgrade", (response, socket) => {
      socket.once("data", (data: Buffer) => {
        resolve({ status: response.statusCode ?? 0, reply: readText(data) });
        socket.destroy();
      });
      socket.write(frame(message, true));
    });
    request.on("response", (response) => {
      response.resume();
      resolve({ status: response.statusCode ?? 0 });
    });
    request.on("error", reject);
    request.setTimeout(5_000, () => request.destroy(new Error("websocket test timed out")));
    request.end();
  });
}
