/** A JWKS endpoint on 127.0.0.1 whose answers a test controls (keys, outage, garbage, slowness). */
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { JWK } from "jose";

export interface JwksServer {
  readonly url: string;
  keys: JWK[];
  /** "ok" serves the keys; the others simulate an unhealthy provider. */
  mode: "ok" | "error" | "garbage" | "empty";
  /** How long each answer is held back (a slow provider); 0 by default. */
  delayMs: number;
  /** Requests received, counted when they arrive. */
  fetches: number;
  /** Requests answered, so a test can tell a fetch still in flight. */
  answered: number;
  close(): Promise<void>;
}

export async function startJwksServer(keys: JWK[]): Promise<JwksServer> {
  const state = { keys, mode: "ok" as JwksServer["mode"], delayMs: 0, fetches: 0, answered: 0 };
  const answer = (response: http.ServerResponse) => {
    state.answered += 1;
    if (state.mode === "error") return void response.writeHead(500).end("upstream error");
    if (state.mode === "garbage")
      return void response.writeHead(200, { "content-type": "application/json" }).end("{not json");
    if (state.mode === "empty")
      return void response.writeHead(200, { "content-type": "application/json" }).end('{"keys":[]}');
    response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: state.keys }));
  };
  const server = http.createServer((_request, response) => {
    state.fetches += 1;
    if (state.delayMs > 0) setTimeout(() => answer(response), state.delayMs);
    else answer(response);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  }) as JwksServer;
}
