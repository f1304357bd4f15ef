/**
 * Forwarding: the upstream sees the client's request faithfully, minus what the gateway
 * owns (its cookies, identity and forwarding headers, hop-by-hop headers); bodies stream
 * both ways with flat memory; failures map to 502/504; WebSockets pass through.
 */
import { createHash } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Gateway, startGateway } from "../support/gateway";
import { residentBytes, workerdPids } from "../support/process-memory";
import { recordAndPublish } from "../support/revocations";
import { mintToken } from "../support/tokens";
import { acceptWebSockets, openWebSocket } from "../support/websocket";
import { writeBytes } from "../support/write-bytes";

let gateway: Gateway;
let auth: { authorization: string };
const upgrades: http.IncomingHttpHeaders[] = [];

const MB = 1024 * 1024;
const CHUNK = new Uint8Array(MB).fill(97);

beforeAll(async () => {
  // The upstream answers an upload once it has read all of it: on a loaded machine 100 MB
  // can take longer than the harness's 2 s wait. The timeout tests use their own gateway.
  gateway = await startGateway({ vars: { UPSTREAM_TIMEOUT_MS: "60000" } });
  acceptWebSockets(gateway.upstream.server, upgrades);
  auth = { authorization: `Bearer ${await mintToken(gateway.key, { claims: { sub: "user-7", scope: "read" } })}` };
  gateway.upstream.route("/download/*", (request, response) => {
    const megabytes = Number((request.url ?? "").split("/").pop());
    response.writeHead(200, { "content-type": "application/octet-stream" });
    writeBytes(response, megabytes * MB, CHUNK);
  });
  gateway.upstream.route("/slow", (_request, response) => {
    setTimeout(() => response.writeHead(200).end("late"), 1_500);
  });
});
afterAll(() => gateway.close());

describe("what the upstream receives", () => {
  it("forwards method, path, query and body unchanged", async () => {
    const response = await gateway.fetch("/api/orders/7?expand=items&x=%20y", {
      method: "PATCH",
      headers: { ...auth, "content-type": "application/json", "x-custom": "kept" },
      body: '{"qty":3}',
    });
    expect(response.status).toBe(200);
    const seen = gateway.upstream.proxied().at(-1);
    expect(seen?.method).toBe("PATCH");
    expect(seen?.url).toBe("/api/orders/7?expand=items&x=%20y");
    expect(seen?.headers["x-custom"]).toBe("kept");
    expect(seen?.headers["content-type"]).toBe("application/json");
    expect(seen?.bodySha256).toBe(createHash("sha256").update('{"qty":3}').digest("hex"));
  });

  it("strips the gateway's cookies and keeps the others", async () => {
    await gateway.fetch("/api/x", {
      headers: {
        ...auth,
        cookie: "a=1; __Host-portcullis-refresh=secret-refresh; b=2; __host-PORTCULLIS-access=look-alike; c=3",
      },
    });
    expect(gateway.upstream.proxied().at(-1)?.headers.cookie).toBe("a=1; b=2; c=3");
  });

  it("replaces identity and forwarding headers the client made up", async () => {
    await gateway.fetch("/api/x", {
      headers: {
        ...auth,
        "x-auth-subject": "admin",
        "x-auth-scopes": "admin",
        "X-Auth-Roles": "root",
        "x-auth-anything": "spoof",
        "x-forwarded-for": "10.0.0.1",
        "x-forwarded-host": "evil.test",
        "x-forwarded-proto": "gopher",
        forwarded: "for=10.0.0.1",
        "x-real-ip": "10.0.0.1",
      },
    });
    const seen = gateway.upstream.proxied().at(-1)?.headers ?? {};
    expect(seen["x-auth-subject"]).toBe("user-7");
    expect(seen["x-auth-scopes"]).toBe("read");
    expect(seen["x-auth-roles"]).toBeUndefined();
    expect(seen["x-auth-anything"]).toBeUndefined();
    expect(seen["x-forwarded-for"]).toBe("127.0.0.1");
    expect(seen["x-forwarded-host"]).toBe(new URL(gateway.url).host);
    expect(seen["x-forwarded-proto"]).toBe("http");
    expect(seen.forwarded).toBeUndefined();
    expect(seen["x-real-ip"]).toBeUndefined();
  });

  it("sets X-Forwarded-Host to the host each request used, when the hosts take turns", async () => {
    // The gateway keeps the last host it worked out; a request for another host must not get it.
    const { port } = new URL(gateway.url);
    const hosts = [`localhost:${port}`, `127.0.0.1:${port}`, `LOCALHOST:${port}`, `127.0.0.1:${port}`];
    const forwarded: (string | undefined)[] = [];
    for (const host of hosts) {
      await new Promise<void>((resolve, reject) => {
        const request = http.request(`${gateway.url}/public/host`, { headers: { host } });
        request.on("response", (response) => response.resume().on("end", resolve));
        request.on("error", reject);
        request.end();
      });
      const seen = gateway.upstream.proxied().at(-1)?.headers ?? {};
      forwarded.push(seen["x-forwarded-host"] as string | undefined);
    }
    expect(forwarded).toEqual([`localhost:${port}`, `127.0.0.1:${port}`, `localhost:${port}`, `127.0.0.1:${port}`]);
  });

  it("forwards headers named like JavaScript's object members as headers", async () => {
    // The upstream headers are built as an object: these names must arrive as they were sent.
    // (Node's request.headers is an ordinary object and loses "__proto__": read the raw list.)
    const odd = { ["__proto__"]: "p", constructor: "c", tostring: "t", hasownproperty: "h", valueof: "v" };
    let raw: string[] = [];
    gateway.upstream.route("/api/odd", (request, response) => {
      raw = request.rawHeaders;
      response.end();
    });
    try {
      await new Promise<void>((resolve, reject) => {
        const request = http.request(`${gateway.url}/api/odd`, { headers: { ...auth, ...odd } });
        request.on("response", (response) => response.resume().on("end", resolve));
        request.on("error", reject);
        request.end();
      });
    } finally {
      gateway.upstream.unroute("/api/odd");
    }
    const received = new Map<string, string>();
    for (let i = 0; i + 1 < raw.length; i += 2) received.set((raw[i] ?? "").toLowerCase(), raw[i + 1] ?? "");
    for (const [name, value] of Object.entries(odd)) expect([name, received.get(name)]).toEqual([name, value]);
    expect(received.get("x-auth-subject")).toBe("user-7");
  });

  it("strips identity headers on public routes too", async () => {
    await gateway.fetch("/public/x", { headers: { "x-auth-subject": "admin", cookie: "__Host-portcullis-refresh=r" } });
    const seen = gateway.upstream.proxied().at(-1)?.headers ?? {};
    expect(seen["x-auth-subject"]).toBeUndefined();
    expect(seen.cookie).toBeUndefined();
  });

  it("drops hop-by-hop headers, including those named in Connection", async () => {
    await new Promise<void>((resolve, reject) => {
      const request = http.request(`${gateway.url}/api/hop`, {
        headers: { ...auth, connection: "keep-alive, x-hop", "x-hop": "1", "keep-alive": "timeout=5", te: "trailers" },
      });
      request.on("response", (response) => response.resume().on("end", resolve));
      request.on("error", reject);
      request.end();
    });
    const seen = gateway.upstream.proxied().at(-1)?.headers ?? {};
    expect(seen["x-hop"]).toBeUndefined();
    expect(seen["keep-alive"]).toBeUndefined();
    expect(seen.te).toBeUndefined();
  });

  it("drops the upstream's hop-by-hop answer headers, including those its Connection names", async () => {
    gateway.upstream.route("/hop-answer", (_request, response) => {
      response.writeHead(200, {
        "content-type": "text/plain",
        connection: "keep-alive, x-upstream-hop",
        "keep-alive": "timeout=1234",
        "x-upstream-hop": "internal",
        "proxy-connection": "keep-alive",
        te: "trailers",
        trailer: "x-checksum",
        upgrade: "h2c",
        "x-end-to-end": "kept",
      });
      response.end("body");
    });
    try {
      const raw = await new Promise<http.IncomingMessage>((resolve, reject) => {
        const request = http.request(`${gateway.url}/hop-answer`, { headers: auth });
        request.on("response", (response) => response.resume().on("end", () => resolve(response)));
        request.on("error", reject);
        request.end();
      });
      expect(raw.statusCode).toBe(200);
      expect(raw.headers["x-end-to-end"]).toBe("kept");
      expect(raw.headers["x-upstream-hop"]).toBeUndefined();
      expect(raw.headers["proxy-connection"]).toBeUndefined();
      expect(raw.headers.te).toBeUndefined();
      expect(raw.headers.trailer).toBeUndefined();
      expect(raw.headers.upgrade).toBeUndefined();
      expect(raw.headers["keep-alive"]).toBeUndefined();
      expect(raw.headers.connection ?? "").not.toContain("x-upstream-hop");
    } finally {
      gateway.upstream.unroute("/hop-answer");
    }
  });

  it("passes the upstream's answer back with all its Set-Cookie headers", async () => {
    const response = await gateway.fetch("/api/x", { headers: auth });
    expect(response.headers.get("x-upstream")).toBe("yes");
    expect(response.headers.getSetCookie()).toEqual(["app=1; Path=/", "theme=dark; Path=/"]);
  });

  it("gives every answer its own X-Request-Id, in place of the upstream's", async () => {
    gateway.upstream.route("/api/rid", (_request, response) => {
      response.writeHead(200, { "x-request-id": "chosen-by-upstream" }).end("ok");
    });
    try {
      const answers = [
        await gateway.fetch("/api/rid", { headers: auth }),
        await gateway.fetch("/api/rid", { headers: auth }),
        await gateway.fetch("/public/rid"),
        await gateway.fetch("/api/rid"),
      ];
      for (const answer of answers) await answer.body?.cancel();
      expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 401]);
      const ids = answers.map((answer) => answer.headers.get("x-request-id"));
      for (const id of ids) expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect(new Set(ids).size).toBe(ids.length);
    } finally {
      gateway.upstream.unroute("/api/rid");
    }
  });

  it("keeps the client's connection usable after a refused GET whose body nobody read", async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const send = (headers: http.OutgoingHttpHeaders, body?: string) =>
      new Promise<{ status: number | undefined; reused: boolean }>((resolve, reject) => {
        const request = http.request(`${gateway.url}/api/x`, { agent, headers });
        request.on("response", (response) =>
          response.resume().on("end", () => resolve({ status: response.statusCode, reused: request.reusedSocket })),
        );
        request.on("error", reject);
        request.end(body);
      });
    try {
      const refused = await send({ "content-length": "11" }, "hello world");
      const next = await send(auth);
      expect(refused).toEqual({ status: 401, reused: false });
      expect(next).toEqual({ status: 200, reused: true });
    } finally {
      agent.destroy();
    }
  });
});

describe("streaming", () => {
  it("streams a 100 MB upload and a 100 MB download with flat gateway memory", async () => {
    const [pid] = workerdPids();
    expect(pid).toBeDefined();
    // Warm up so one-time allocations do not count.
    await (await gateway.fetch("/download/1", { headers: auth })).arrayBuffer();
    const baseline = residentBytes(pid as number);
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, residentBytes(pid as number));
    }, 20);
    try {
      const size = 100;
      let produced = 0;
      const upload = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (produced === size) return controller.close();
          produced += 1;
          controller.enqueue(CHUNK);
        },
      });
      const uploaded = await gateway.fetch("/api/upload", {
        method: "PUT",
        headers: { ...auth, "content-type": "application/octet-stream" },
        body: upload,
        duplex: "half",
      } as RequestInit);
      expect(uploaded.status).toBe(200);
      expect(((await uploaded.json()) as { bodyBytes: number }).bodyBytes).toBe(size * MB);

      const download = await gateway.fetch(`/download/${size}`, { headers: auth });
      expect(download.status).toBe(200);
      let received = 0;
      for await (const chunk of download.body as unknown as AsyncIterable<Uint8Array>) received += chunk.byteLength;
      expect(received).toBe(size * MB);
    } finally {
      clearInterval(sampler);
    }
    // Buffering either body whole would add at least 100 MB.
    expect(peak - baseline).toBeLessThan(40 * MB);
  });
});

describe("upstream failures", () => {
  it("answers 504 problem+json when the upstream is too slow", async () => {
    const quick = await startGateway({ upstream: gateway.upstream, vars: { UPSTREAM_TIMEOUT_MS: "300" } });
    try {
      const response = await quick.fetch("/slow", {
        headers: { authorization: `Bearer ${await mintToken(quick.key)}` },
      });
      expect(response.status).toBe(504);
      expect(response.headers.get("content-type")).toBe("application/problem+json");
    } finally {
      await quick.close();
    }
  });

  it("gives up a request it answered 504: the upstream sees it cancelled, not left open", async () => {
    const quick = await startGateway({ upstream: gateway.upstream, vars: { UPSTREAM_TIMEOUT_MS: "300" } });
    let cancelled!: () => void;
    const seenCancelled = new Promise<void>((resolve) => {
      cancelled = resolve;
    });
    // Never answers; notes when the gateway's side of the connection goes away.
    gateway.upstream.route("/never", (request, response) => {
      response.on("close", () => {
        if (!response.writableEnded) cancelled();
      });
      request.resume();
    });
    try {
      const response = await quick.fetch("/never", {
        headers: { authorization: `Bearer ${await mintToken(quick.key)}` },
      });
      expect(response.status).toBe(504);
      await response.text();
      // Well before the upstream's own idle timeouts (5 s keep-alive, 300 s request).
      await expect(
        Promise.race([
          seenCancelled.then(() => "cancelled"),
          new Promise((resolve) => setTimeout(resolve, 4_000, "still open")),
        ]),
      ).resolves.toBe("cancelled");
    } finally {
      gateway.upstream.unroute("/never");
      await quick.close();
    }
  });

  it("answers 502 problem+json when the upstream cannot be reached", async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const down = await startGateway({ vars: { UPSTREAM_URL: `http://127.0.0.1:${port}` } });
    try {
      const response = await down.fetch("/api/x", {
        headers: { authorization: `Bearer ${await mintToken(down.key)}` },
      });
      expect(response.status).toBe(502);
      expect(response.headers.get("content-type")).toBe("application/problem+json");
      expect(await response.text()).not.toContain(String(port));
    } finally {
      await down.close();
    }
  });
});

describe("WebSockets", () => {
  it("relays an authenticated upgrade both ways, with the identity headers", async () => {
    const socket = await openWebSocket(`${gateway.url}/ws`, auth);
    expect(socket.status).toBe(101);
    socket.send("hello");
    expect(await socket.message()).toBe("echo: hello");
    socket.send("again");
    expect(await socket.message()).toBe("echo: again");
    expect(upgrades.at(-1)?.["x-auth-subject"]).toBe("user-7");
    socket.destroy();
  });

  it("refuses an upgrade without a token before it reaches the upstream", async () => {
    const before = upgrades.length;
    const socket = await openWebSocket(`${gateway.url}/ws`, {});
    expect(socket.status).toBe(401);
    expect(upgrades.length).toBe(before);
  });

  it("closes the socket (1008) when the access token that opened it expires", async () => {
    // Expires in 2 s (with the 5 s clock tolerance folded into iat/exp).
    const token = await mintToken(gateway.key, { iatOffset: -(900 - 2 + 5), ttl: 900 });
    const socket = await openWebSocket(`${gateway.url}/ws`, { authorization: `Bearer ${token}` });
    expect(socket.status).toBe(101);
    socket.send("still here");
    expect(await socket.message()).toBe("echo: still here");
    expect(await socket.closed).toEqual({ code: 1008, reason: "access token expired" });
  });

  it("closes the socket (1008) soon after its session is revoked", async () => {
    const quick = await startGateway({ upstream: gateway.upstream, vars: { WEBSOCKET_REVALIDATE_SECONDS: "1" } });
    try {
      const sid = "WEBSOCKETSESSION000000";
      const token = await mintToken(quick.key, { claims: { sid } });
      const socket = await openWebSocket(`${quick.url}/ws`, { authorization: `Bearer ${token}` });
      expect(socket.status).toBe(101);
      await recordAndPublish(quick, [{ kind: "sid", id: sid, reason: "test", ttlSeconds: 60 }]);
      expect(await socket.closed).toEqual({ code: 1008, reason: "revoked" });
    } finally {
      await quick.close();
    }
  });
});
