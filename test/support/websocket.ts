/**
 * Just enough RFC 6455 for tests: an upstream that accepts WebSocket upgrades and echoes
 * text frames, and a client that upgrades through the gateway with custom headers and
 * reads text and close frames.
 */
import { createHash, randomBytes } from "node:crypto";
import http from "node:http";
import type { Duplex } from "node:stream";
import { isPeerGone } from "./socket-errors";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const TEXT = 0x1;
const CLOSE = 0x8;

interface Frame {
  readonly opcode: number;
  readonly payload: Buffer;
}

function encode(opcode: number, payload: Buffer, masked: boolean): Buffer {
  if (payload.length > 125) throw new Error("test frames are short");
  const header = Buffer.from([0x80 | opcode, (masked ? 0x80 : 0) | payload.length]);
  if (!masked) return Buffer.concat([header, payload]);
  const mask = randomBytes(4);
  return Buffer.concat([header, mask, Buffer.from(payload.map((byte, index) => byte ^ (mask[index % 4] as number)))]);
}

/** Reads whole frames from a byte stream (short frames only, as the tests send). */
function frameReader(socket: Duplex, onFrame: (frame: Frame) => void): void {
  let buffer = Buffer.alloc(0);
  socket.on("data", (data: Buffer) => {
    buffer = Buffer.concat([buffer, data]);
    for (;;) {
      if (buffer.length < 2) return;
      const masked = ((buffer[1] as number) & 0x80) !== 0;
      let length = (buffer[1] as number) & 0x7f;
      let offset = 2;
      if (length === 126) {
        length = buffer.readUInt16BE(2);
        offset = 4;
      }
      const start = offset + (masked ? 4 : 0);
      if (buffer.length < start + length) return;
      let payload = buffer.subarray(start, start + length);
      if (masked) {
        const mask = buffer.subarray(offset, offset + 4);
        payload = Buffer.from(payload.map((byte, index) => byte ^ (mask[index % 4] as number)));
      }
      onFrame({ opcode: (buffer[0] as number) & 0x0f, payload });
      buffer = buffer.subarray(start + length);
    }
  });
}

/**
 * Make `server` accept upgrades and echo "echo: <text>"; records the upgrade headers.
 * The server's owner watches its sockets' errors (test/support/upstream.ts does).
 */
export function acceptWebSockets(server: http.Server, seen: http.IncomingHttpHeaders[]): void {
  server.on("upgrade", (request: http.IncomingMessage, socket: Duplex) => {
    seen.push(request.headers);
    const key = String(request.headers["sec-websocket-key"]);
    const accept = createHash("sha1")
      .update(key + GUID)
      .digest("base64");
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    frameReader(socket, (frame) => {
      if (frame.opcode === TEXT) socket.write(encode(TEXT, Buffer.from(`echo: ${frame.payload}`), false));
      if (frame.opcode === CLOSE) {
        socket.write(encode(CLOSE, frame.payload.subarray(0, 2), false));
        socket.end();
      }
    });
  });
}

export interface ClientSocket {
  readonly status: number;
  send(text: string): void;
  /** The next text message. */
  message(): Promise<string>;
  /** Resolves with the close frame's code and reason. */
  readonly closed: Promise<{ code: number; reason: string }>;
  destroy(): void;
}

/** Upgrade through `url` with `headers`; resolves once the gateway has answered. */
export function openWebSocket(url: string, headers: Record<string, string>): Promise<ClientSocket> {
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
      const messages: string[] = [];
      const waiting: Array<(text: string) => void> = [];
      let onClose: (value: { code: number; reason: string }) => void = () => {};
      const closed = new Promise<{ code: number; reason: string }>((done) => {
        onClose = done;
      });
      frameReader(socket, (frame) => {
        if (frame.opcode === TEXT) {
          const text = frame.payload.toString("utf8");
          const next = waiting.shift();
          if (next) next(text);
          else messages.push(text);
        }
        if (frame.opcode === CLOSE) {
          onClose({
            code: frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 1005,
            reason: frame.payload.subarray(2).toString("utf8"),
          });
          socket.destroy();
        }
      });
      // A reset before any close frame is an abnormal closure (1006) the test sees, with
      // its cause; one after the close frame changes nothing.
      socket.on("error", (error: Error) => {
        const cause = isPeerGone(error) ? "connection reset" : error.message;
        for (const waiter of waiting.splice(0)) waiter(`<socket error: ${cause}>`);
        onClose({ code: 1006, reason: `socket error: ${cause}` });
        socket.destroy();
      });
      socket.on("close", () => onClose({ code: 1006, reason: "" }));
      resolve({
        status: response.statusCode ?? 0,
        send: (text) => socket.write(encode(TEXT, Buffer.from(text), true)),
        message: () => {
          const queued = messages.shift();
          return queued !== undefined ? Promise.resolve(queued) : new Promise((done) => waiting.push(done));
        },
        closed,
        destroy: () => socket.destroy(),
      });
    });
    request.on("response", (response) => {
      response.resume();
      const never = new Promise<{ code: number; reason: string }>(() => {});
      resolve({
        status: response.statusCode ?? 0,
        send: () => {},
        message: () => Promise.reject(new Error("not upgraded")),
        closed: never,
        destroy: () => {},
      });
    });
    request.on("error", reject);
    request.setTimeout(20_000, () => request.destroy(new Error("websocket upgrade got no answer in 20 s")));
    request.end();
  });
}
