/**
 * An upstream that closes an idle keep-alive connection just as the gateway sends the next
 * request on it: the request fails before any byte of an answer ("Network connection
 * lost." in workerd). Seen under load as a rare 502 on a plain GET (docs/benchmarks.md).
 *
 * The upstream here closes a connection as soon as a second request arrives on it, without
 * answering: the same race, made deterministic. A bodiless idempotent request is sent once
 * more and succeeds; a request whose body may already have gone is never sent twice.
 */
import type { Socket } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { MAX_RESENDS } from "../../src/proxy/forward";
import { type Gateway, startGateway } from "../support/gateway";

let gateway: Gateway;
/** Requests the upstream received on `/public/reused/*`, as "METHOD path", answered or not. */
let arrivals: string[];
/** Those it dropped by closing their (reused) connection. */
let dropped: string[];

beforeAll(async () => {
  gateway = await startGateway();
  const answered = new WeakSet<Socket>();
  gateway.upstream.route("/public/reused/*", async (request, response) => {
    const line = `${request.method} ${request.url}`;
    arrivals.push(line);
    if (answered.has(request.socket)) {
      dropped.push(line);
      request.socket.destroy();
      return;
    }
    answered.add(request.socket);
    await request.toArray();
    response.writeHead(200, { "content-type": "text/plain", connection: "keep-alive" }).end("fresh");
  });
});
afterAll(() => gateway.close());
beforeEach(() => {
  arrivals = [];
  dropped = [];
});

describe("a pooled upstream connection closed under a request", () => {
  it("sends an idempotent request without a body once more and answers it", async () => {
    for (const path of ["/public/reused/1", "/public/reused/2", "/public/reused/3"]) {
      const response = await gateway.fetch(path);
      expect(response.status).toBe(200);
      expect(await response.text()).toBe("fresh");
    }
    // The race really happened, and each dropped request was answered on a new connection.
    expect(dropped.length).toBeGreaterThan(0);
    for (const line of dropped) expect(arrivals.filter((arrival) => arrival === line)).toHaveLength(2);
  });

  it("does the same for HEAD and DELETE without a body", async () => {
    await (await gateway.fetch("/public/reused/warm")).text();
    for (const method of ["HEAD", "DELETE"]) {
      const response = await gateway.fetch(`/public/reused/${method}`, { method });
      await response.arrayBuffer();
      expect(response.status, method).toBe(200);
    }
    expect(dropped.length).toBeGreaterThan(0);
  });

  it.each([
    ["POST", "a non-idempotent request"],
    ["PUT", "a request with a body"],
  ])("never sends %s with a body twice (%s): it answers 502 problem+json", async (method) => {
    await (await gateway.fetch("/public/reused/warm")).text();
    const response = await gateway.fetch(`/public/reused/${method}-body`, { method, body: "once only" });
    expect(response.status).toBe(502);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    expect(dropped).toContain(`${method} /public/reused/${method}-body`);
    expect(arrivals.filter((line) => line.startsWith(method))).toHaveLength(1);
  });

  it("keeps resending while several connections in a row fail, within the bound", async () => {
    let failuresLeft = MAX_RESENDS;
    let attempts = 0;
    gateway.upstream.route("/public/several/*", (request, response) => {
      attempts += 1;
      if (failuresLeft > 0) {
        failuresLeft -= 1;
        request.socket.destroy();
        return;
      }
      response.writeHead(200, { "content-type": "text/plain" }).end("at last");
    });
    try {
      const response = await gateway.fetch("/public/several/x");
      expect(response.status).toBe(200);
      expect(await response.text()).toBe("at last");
      expect(attempts).toBe(MAX_RESENDS + 1);
    } finally {
      gateway.upstream.unroute("/public/several/*");
    }
  });

  it("gives up after the bound and answers 502 problem+json", async () => {
    let attempts = 0;
    gateway.upstream.route("/public/always-reset/*", (request) => {
      attempts += 1;
      request.socket.destroy();
    });
    try {
      const response = await gateway.fetch("/public/always-reset/x");
      expect(response.status).toBe(502);
      expect(response.headers.get("content-type")).toBe("application/problem+json");
      expect(attempts).toBe(MAX_RESENDS + 1);
    } finally {
      gateway.upstream.unroute("/public/always-reset/*");
    }
  });
});
