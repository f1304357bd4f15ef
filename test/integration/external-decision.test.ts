/**
 * A rule's external decision through the bundled Worker in miniflare: the decision service
 * is a real HTTP server on 127.0.0.1, reached through a service binding (`POLICY`, an
 * external server of workerd's), as a Worker of yours would be reached on Cloudflare. It
 * answers by the path it is asked about, and records every request it gets.
 */
import { rmSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, writeProject } from "../support/cli";
import { AUDIENCE, type Gateway, ISSUER, startGateway } from "../support/gateway";
import { TEST_SECRETS } from "../support/test-keys";
import { mintToken } from "../support/tokens";

interface Asked {
  readonly headers: http.IncomingHttpHeaders;
  readonly text: string;
  readonly body: {
    rule: { index: number; path: string };
    subject: { sub: string; sid?: string; scopes: string[]; roles: string[]; claims: Record<string, unknown> };
    request: { method: string; path: string; client_ip?: string; country?: string; asn?: number };
  };
}

const asked: Asked[] = [];
let service: http.Server;
let gateway: Gateway;

/** The decision service's answer (status, body), by the first segment of the path it is asked about. */
function answerTo(body: Asked["body"]): [number, string] {
  switch (body.request.path.split("/")[1]?.toLowerCase()) {
    case "allow":
      return [200, '{"allow": true}'];
    case "admin":
      return [200, JSON.stringify({ allow: body.subject.sub === "user-admin" })];
    case "broken":
      return [500, '{"allow": true}'];
    case "garbage":
      return [200, "<html>allow</html>"];
    case "cached":
      return [200, '{"allow": true, "cache_seconds": 60}'];
    default:
      return [200, '{"allow": false}'];
  }
}

function answer(body: Asked["body"], response: http.ServerResponse): void {
  const [status, text] = answerTo(body);
  // /slow/*: a service that answers long after the rule's timeout_ms.
  const delay = body.request.path.startsWith("/slow/") ? 3_000 : 0;
  setTimeout(() => response.writeHead(status, { "content-type": "application/json" }).end(text), delay).unref();
}

const POLICY = { service: "POLICY" };
const ROUTES = [
  { path: "/health", public: true },
  { path: "/allow/*", decision: POLICY },
  { path: "/deny/*", decision: POLICY },
  { path: "/admin/*", scopes: ["read"], decision: POLICY },
  { path: "/slow/*", decision: { service: "POLICY", timeout_ms: 200 } },
  { path: "/broken/*", decision: POLICY },
  { path: "/garbage/*", decision: POLICY },
  { path: "/cached/*", decision: POLICY },
  { path: "/scoped/*", scopes: ["reports"], decision: POLICY },
];

beforeAll(async () => {
  service = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      const body = JSON.parse(text) as Asked["body"];
      asked.push({ headers: request.headers, text, body });
      answer(body, response);
    });
  });
  await new Promise<void>((resolve) => service.listen(0, "127.0.0.1", resolve));
  const { port } = service.address() as AddressInfo;
  gateway = await startGateway({
    vars: { ROUTES: JSON.stringify(ROUTES) },
    workerOptions: { serviceBindings: { POLICY: { external: { address: `127.0.0.1:${port}`, http: {} } } } },
  });
});

afterAll(async () => {
  await gateway?.close();
  service?.closeAllConnections();
  await new Promise((resolve) => service?.close(resolve));
});

async function send(path: string, claims: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  const token = await mintToken(gateway.key, { claims });
  const response = await gateway.fetch(path, { headers: { authorization: `Bearer ${token}`, ...headers } });
  return { status: response.status, headers: response.headers, text: await response.text(), token };
}

const askedAbout = (path: string) => asked.filter((item) => item.body.request.path === path);
const reached = (path: string) => gateway.upstream.proxied().some((request) => request.url === path);

describe("the service decides", () => {
  it("forwards what it allows, after asking once with the verified identity and the request's facts", async () => {
    const answer = await send(
      "/allow/x?q=1",
      { sub: "user-ada", roles: ["analyst"], org: { id: "acme" } },
      {
        "cf-connecting-ip": "203.0.113.7",
      },
    );
    expect(answer.status).toBe(200);
    expect(reached("/allow/x?q=1")).toBe(true);
    const [request] = askedAbout("/allow/x");
    expect(request?.body).toMatchObject({
      version: 1,
      rule: { index: 1, path: "/allow/*" },
      subject: {
        sub: "user-ada",
        sid: "AAAAAAAAAAAAAAAAAAAAAA",
        scopes: ["read", "write"],
        roles: ["analyst"],
        claims: { sub: "user-ada", org: { id: "acme" }, scope: "read write" },
      },
      request: { method: "GET", path: "/allow/x", client_ip: "203.0.113.7" },
    });
    expect(request?.headers["content-type"]).toBe("application/json");
  });

  it("refuses what it denies 403 access_denied, without a bearer challenge, and the upstream never sees it", async () => {
    const answer = await send("/deny/x");
    expect(answer.status).toBe(403);
    expect(answer.headers.get("www-authenticate")).toBeNull();
    expect(JSON.parse(answer.text)).toMatchObject({ error: "access_denied", status: 403 });
    expect(reached("/deny/x")).toBe(false);
    const [line] = await gateway.waitForLog((entry) => entry.includes("decision denied: rule 2 (/deny/*)"));
    expect(JSON.parse(line as string)).toMatchObject({
      event: "request_refused",
      code: "access_denied",
      detail: "decision denied: rule 2 (/deny/*), service POLICY",
    });
  });

  it("is asked only after scopes pass: a request the cheap checks refuse costs no subrequest", async () => {
    expect((await send("/scoped/x", { scope: "read" })).status).toBe(403);
    expect(askedAbout("/scoped/x")).toHaveLength(0);
    expect((await send("/scoped/x", { scope: "reports" })).status).toBe(403);
    expect(askedAbout("/scoped/x")).toHaveLength(1);
  });

  it("never receives the Authorization header, cookies or the token", async () => {
    const answer = await send("/allow/credentials", {}, { cookie: "__Host-portcullis-refresh=r3fr3sh; other=1" });
    expect(answer.status).toBe(200);
    expect(askedAbout("/allow/credentials")).toHaveLength(1);
    const [request] = askedAbout("/allow/credentials");
    expect(request?.headers.authorization).toBeUndefined();
    expect(request?.headers.cookie).toBeUndefined();
    expect(request?.text).not.toContain(answer.token);
    expect(request?.text).not.toContain(answer.token.split(".")[2]);
    expect(request?.text).not.toContain("r3fr3sh");
  });

  it("judges every spelling of a path by the rule of each of its readings: /Admin/ and /ADMIN are /admin/*", async () => {
    for (const path of ["/Admin/users", "/ADMIN", "/admin/"]) {
      const refused = await send(path, { sub: "user-alice" });
      expect([path, refused.status]).toEqual([path, 403]);
      expect(reached(path)).toBe(false);
      expect(askedAbout(path).map((item) => item.body.rule.path)).toEqual(["/admin/*"]);
    }
    expect((await send("/Admin/users", { sub: "user-admin" })).status).toBe(200);
  });
});

describe("no decision fails closed", () => {
  it("a service slower than timeout_ms: 503, Retry-After, within the bound, the upstream not reached", async () => {
    const started = Date.now();
    const answer = await send("/slow/x");
    const took = Date.now() - started;
    expect(answer.status).toBe(503);
    expect(answer.headers.get("retry-after")).toBe("5");
    expect(JSON.parse(answer.text)).toMatchObject({ title: "Authorization is temporarily unavailable" });
    expect(took).toBeLessThan(1_500);
    expect(reached("/slow/x")).toBe(false);
    await gateway.waitForLog((entry) =>
      entry.includes("decision failed: rule 4 (/slow/*), service POLICY: timeout after 200 ms"),
    );
  });

  it.each([
    ["/broken/x", "decision failed: rule 5 (/broken/*), service POLICY: status 500"],
    ["/garbage/x", "decision failed: rule 6 (/garbage/*), service POLICY: an answer that is not JSON"],
  ])("%s: 503, logged as a failed dependency with the reason", async (path, detail) => {
    const answer = await send(path);
    expect(answer.status).toBe(503);
    expect(reached(path)).toBe(false);
    const [line] = await gateway.waitForLog((entry) => entry.includes(detail));
    expect(JSON.parse(line as string)).toMatchObject({
      level: "error",
      event: "dependency_failed",
      code: "decision_unavailable",
      status: 503,
    });
  });
});

describe("cache_seconds", () => {
  it("is honoured: the service is asked once for two requests of one subject, and again for another subject", async () => {
    expect((await send("/cached/x", { sub: "user-ada" })).status).toBe(200);
    expect((await send("/cached/x", { sub: "user-ada" })).status).toBe(200);
    expect(askedAbout("/cached/x")).toHaveLength(1);
    expect((await send("/cached/x", { sub: "user-bob" })).status).toBe(200);
    expect(askedAbout("/cached/x").map((item) => item.body.subject.sub)).toEqual(["user-ada", "user-bob"]);
  });
});

it("the log holds no token and no cookie", async () => {
  const { token } = await send("/deny/log", {}, { cookie: "__Host-portcullis-refresh=r3fr3sh-log" });
  await gateway.flushLogs();
  const logs = gateway.logs.join("\n");
  expect(logs).not.toContain(token.split(".")[2]);
  expect(logs).not.toContain("r3fr3sh-log");
});

it("a rule whose service is not bound stops the gateway, naming the rule and what to declare", async () => {
  const unbound = await startGateway({ vars: { ROUTES: JSON.stringify([{ path: "/r/*", decision: POLICY }]) } });
  try {
    const response = await unbound.fetch("/r/x");
    expect(response.status).toBe(503);
    await response.body?.cancel();
    const [line] = await unbound.waitForLog((entry) => entry.includes('"event":"config_invalid"'));
    expect(JSON.parse(line as string)).toMatchObject({ setting: "ROUTES" });
    expect(JSON.parse(line as string).detail).toContain(
      'rule 0 (/r/*): decision.service "POLICY" is not bound; add [[services]] binding = "POLICY"',
    );
  } finally {
    await unbound.close();
  }
});

describe("portcullis check and explain, which cannot ask the service", () => {
  const project = (services: readonly string[]) =>
    writeProject({
      vars: {
        PORTCULLIS_ENV: "production",
        UPSTREAM_URL: "https://api.example.com",
        TOKEN_ISSUER: ISSUER,
        TOKEN_AUDIENCE: AUDIENCE,
        ROUTES: [{ path: "/reports/*", scopes: ["read"], decision: { service: "POLICY", timeout_ms: 300 } }],
      },
      secrets: { SIGNING_KEYS: "[]", CREDENTIAL_CHECK_SECRET: TEST_SECRETS.CREDENTIAL_CHECK_SECRET },
      services,
    });
  const bound = project(["POLICY"]);
  const unbound = project([]);
  afterAll(() => {
    for (const { dir } of [bound, unbound]) rmSync(dir, { recursive: true, force: true });
  });

  it("check lists the rule as asking the service and refuses it unbound; explain forwards, assuming it allows, and says so", async () => {
    const [ok, refused, explained] = await Promise.all([
      runCli(["check", "--config", bound.config]),
      runCli(["check", "--config", unbound.config]),
      runCli(["explain", "GET", "/Reports/q", "--config", bound.config, "--claims", '{"scope":"read"}']),
    ]);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/\/reports\/\*\s+any\s+scopes read; asks service POLICY \(timeout 300 ms\)/);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain(
      'error: ROUTES: rule 0 (/reports/*): decision.service "POLICY" is not bound; add [[services]] binding = "POLICY"',
    );
    expect(explained.status).toBe(0);
    expect(explained.stdout).toContain("answer: forwarded, if service POLICY allows (not asked)");
    expect(explained.stdout).toContain(
      "rule 0 asks service POLICY (timeout 300 ms), which is not asked here: assumed to allow",
    );
  });
});
