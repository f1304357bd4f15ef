/**
 * A real HTTP upstream on 127.0.0.1 that records what it received.
 *
 * Default routes: the credential check (demo users), `/stream/<bytes>` (a streamed
 * download), `/slow` (answers after a delay), and everything else an echo that consumes
 * the body and records its SHA-256. Tests can add routes.
 */
import { createHash } from "node:crypto";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { isPeerGone, SocketErrors } from "./socket-errors";
import { TEST_SECRETS } from "./test-keys";

export interface ReceivedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly rawHeaders: string[];
  readonly bodyBytes: number;
  readonly bodySha256: string;
}

export type RouteHandler = (request: IncomingMessage, response: ServerResponse) => void | Promise<void>;

export const TEST_USERS: Record<string, { password: string; sub: string; scope: string; roles: string[] }> = {
  alice: { password: "correct horse", sub: "user-alice", scope: "read write", roles: ["member"] },
  admin: { password: "battery staple", sub: "user-admin", scope: "read write admin", roles: ["operator"] },
};

export interface TestUpstream {
  readonly url: string;
  readonly server: http.Server;
  readonly received: ReceivedRequest[];
  /** Requests other than the credential check. */
  proxied(): ReceivedRequest[];
  route(path: string, handler: RouteHandler): void;
  /** Remove a test's route, restoring the default one (e.g. the credential check) if any. */
  unroute(path: string): void;
  /** Stops the server; rejects if any of its sockets failed other than by the peer leaving. */
  close(): Promise<void>;
}

function consume(request: IncomingMessage): Promise<{ bytes: number; sha256: string }> {
  return new Promise((resolve, reject) => {
    const hash = createHash("sha256");
    let bytes = 0;
    request.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
    });
    request.on("end", () => resolve({ bytes, sha256: hash.digest("hex") }));
    request.on("error", reject);
  });
}

export const CREDENTIAL_CHECK_PATH = "/portcullis/credential-check";

export interface UpstreamOptions {
  /** Keep every request in `received` (default true; long benchmark runs turn it off). */
  readonly record?: boolean;
}

export async function startUpstream(options: UpstreamOptions = {}): Promise<TestUpstream> {
  const received: ReceivedRequest[] = [];
  const keep = (request: ReceivedRequest) => {
    if (options.record !== false) received.push(request);
  };
  const routes = new Map<string, RouteHandler>();

  routes.set(CREDENTIAL_CHECK_PATH, async (request, response) => {
    const body = JSON.parse(Buffer.concat(await request.toArray()).toString("utf8") || "{}");
    if (request.headers["x-portcullis-credential-secret"] !== TEST_SECRETS.CREDENTIAL_CHECK_SECRET) {
      response.writeHead(403).end();
      return;
    }
    const user = TEST_USERS[body.username];
    if (!user || user.password !== body.password) {
      response.writeHead(401, { "content-type": "application/json" }).end('{"error":"invalid"}');
      return;
    }
    response
      .writeHead(200, { "content-type": "application/json" })
      .end(JSON.stringify({ sub: user.sub, scope: user.scope, roles: user.roles }));
  });

  const defaults = new Map(routes);
  const server = http.createServer((request, response) => {
    // A client (the gateway) that gives up mid-request aborts the body being read: that is
    // the peer leaving. Anything else a handler throws fails the test at close().
    serve(request, response).catch((error: Error) => {
      if (!isPeerGone(error) && error.message !== "aborted") socketErrors.unexpected.push(error);
      response.destroy();
    });
  });
  const serve = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const path = (request.url ?? "/").split("?")[0] ?? "/";
    const exact = routes.get(path);
    const prefixed = [...routes.entries()].find(
      ([prefix]) => prefix.endsWith("/*") && path.startsWith(prefix.slice(0, -1)),
    );
    const handler = exact ?? prefixed?.[1];
    if (handler) {
      // Custom routes read the body themselves; only the request line and headers are recorded.
      keep({
        method: request.method ?? "",
        url: request.url ?? "",
        headers: request.headers,
        rawHeaders: request.rawHeaders,
        bodyBytes: -1,
        bodySha256: "",
      });
      await handler(request, response);
      return;
    }
    const body = await consume(request);
    const record: ReceivedRequest = {
      method: request.method ?? "",
      url: request.url ?? "",
      headers: request.headers,
      rawHeaders: request.rawHeaders,
      bodyBytes: body.bytes,
      bodySha256: body.sha256,
    };
    keep(record);
    response.writeHead(200, {
      "content-type": "application/json",
      "x-upstream": "yes",
      "set-cookie": ["app=1; Path=/", "theme=dark; Path=/"],
    });
    response.end(
      JSON.stringify({ method: record.method, url: record.url, bodyBytes: body.bytes, bodySha256: body.sha256 }),
    );
  };
  // Node's default idle keep-alive (5 s), as a typical upstream has. An upstream that drops
  // idle or reused connections at once has its own test (upstream-connections.test.ts).
  server.keepAliveTimeout = 5_000;
  // Upgraded (WebSocket) sockets are not closed by closeAllConnections(); track them all.
  // The HTTP server stops handling a socket's errors once it is upgraded; watch them all.
  const sockets = new Set<import("node:net").Socket>();
  const socketErrors = new SocketErrors();
  server.on("connection", (socket) => {
    sockets.add(socket);
    socketErrors.watch(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    server,
    received,
    proxied: () => received.filter((request) => !request.url.startsWith(CREDENTIAL_CHECK_PATH)),
    route: (path, handler) => routes.set(path, handler),
    unroute: (path) => {
      const fallback = defaults.get(path);
      if (fallback) routes.set(path, fallback);
      else routes.delete(path);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }).then(() => socketErrors.assertNone("the test upstream")),
  };
}
