/**
 * One canonical request (issue: path and header spellings that walk around a rule). Each
 * class of attack, through the bundled gateway, against a real upstream on loopback:
 * what is refused is a 400 that reached nothing; what passes reaches the upstream in the
 * one form its rule was judged on. The framework-by-framework proof is
 * differential-upstreams.test.ts; the path table is test/unit/canonical-path.test.ts.
 */
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sendRaw } from "../support/differential/raw-request";
import { type Gateway, startGateway } from "../support/gateway";
import { mintToken } from "../support/tokens";

const ROUTES = [
  { path: "/health", public: true },
  { path: "/public/*", public: true },
  { path: "/admin/*", scopes: ["admin"] },
  { path: "/reports", methods: ["GET"], scopes: ["reports"] },
  { path: "/orders/*", methods: ["DELETE"], roles: ["operator"] },
];

let gateway: Gateway;
let member: string;
let port: number;
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

beforeAll(async () => {
  gateway = await startGateway({ vars: { ROUTES: JSON.stringify(ROUTES) } });
  port = Number(new URL(gateway.url).port);
  member = await mintToken(gateway.key, { claims: { sub: "user-7", scope: "read write", roles: ["member"] } });
  // A CGI-style reader: what WSGI, Rack, PHP and CGI scripts see as HTTP_* variables.
  gateway.upstream.route("/cgi/*", (request, response) => {
    const environment: Record<string, string[]> = {};
    for (let index = 0; index < request.rawHeaders.length; index += 2) {
      const key = `HTTP_${(request.rawHeaders[index] ?? "").toUpperCase().replace(/[-.]/g, "_")}`;
      environment[key] = [...(environment[key] ?? []), request.rawHeaders[index + 1] ?? ""];
    }
    response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(environment));
  });
  // An upstream that tries to speak for the gateway on the way back.
  gateway.upstream.route("/public/hostile", (_request, response) => {
    response.writeHead(200, [
      ["content-type", "text/plain"],
      ["set-cookie", "__Host-portcullis-refresh=planted; Path=/; Secure; HttpOnly"],
      ["set-cookie", "__HOST-PORTCULLIS-ACCESS=; Max-Age=0; Path=/; Secure"],
      ["set-cookie", "__Host-portcullis-oidc-0123456789abcdef=x; Path=/; Secure"],
      ["set-cookie", "__Secure-portcullis-refresh=x; Secure"],
      ["set-cookie", "app=1; Path=/"],
      ["authorization", "Bearer planted.token.value"],
      ["proxy-authenticate", 'Basic realm="x"'],
      ["clear-site-data", '"cookies"'],
      ["portcullis-degraded", "kv-unavailable"],
      ["x-custom", "kept"],
    ]);
    response.end("hostile");
  });
});
afterAll(async () => {
  agent.destroy();
  await gateway.close();
});

function raw(target: string, options: { method?: string; headers?: http.OutgoingHttpHeaders; body?: string } = {}) {
  return sendRaw({
    port,
    target,
    method: options.method ?? "GET",
    headers: options.headers ?? {},
    agent,
    ...(options.body !== undefined ? { body: options.body } : {}),
  });
}

/** Runs `send` and says whether the upstream saw anything, and what. */
async function upstreamSeen<T>(send: () => Promise<T>): Promise<{ answer: T; seen: string[] }> {
  const before = gateway.upstream.received.length;
  const answer = await send();
  return { answer, seen: gateway.upstream.received.slice(before).map((request) => `${request.method} ${request.url}`) };
}

const bearer = () => ({ authorization: `Bearer ${member}` });

describe("paths without one safe reading: 400, named, nothing forwarded", () => {
  it.each([
    ["/public/..;/admin/users", "';'"],
    ["/admin;x/users", "';'"],
    ["/public/info;jsessionid=1", "';'"],
    ["/public%3b/users", "';'"],
    ["//admin/users", "'//'"],
    ["/public//users", "'//'"],
    ["/public%2f..%2fadmin/users", "%2F"],
    ["/public/%5c../admin", "%5C"],
    ["/public/%00", "control"],
    ["/public/%252e%252e/admin", "double encoding"],
    ["/public/%c0%ae%c0%ae/admin", "UTF-8"],
    ["/public/%ff", "UTF-8"],
    ["/public/%zz", "'%'"],
  ])("%s", async (target, reason) => {
    const { answer, seen } = await upstreamSeen(() => raw(target, { headers: bearer() }));
    expect(answer.status).toBe(400);
    expect(answer.contentType).toBe("application/problem+json");
    const problem = JSON.parse(answer.body);
    expect(problem.error).toBe("invalid_request");
    expect(problem.detail).toContain(reason);
    expect(seen).toEqual([]);
  });

  it("changes nothing: an expired token with a refresh cookie on a refused path is not refreshed", async () => {
    const expired = await mintToken(gateway.key, { ttl: -60 });
    const { answer, seen } = await upstreamSeen(() =>
      raw("/public/..;/admin", {
        headers: { authorization: `Bearer ${expired}`, cookie: "__Host-portcullis-refresh=abc" },
      }),
    );
    expect(answer.status).toBe(400);
    expect(seen).toEqual([]);
  });
});

describe("paths that are normalized: judged and forwarded in one form", () => {
  it.each([
    ["/%61dmin/users", "/admin/users"],
    ["/public/%2e%2e/admin/users", "/admin/users"],
    ["/public/.%2E/admin/users", "/admin/users"],
    ["/public\\..\\admin/users", "/admin/users"],
    // The runtime reads a '#' in the request line as part of the path (then resolves the dots):
    // judged on what it made of it, which is what is forwarded.
    ["/public/info#/../../admin/users", "/admin/users"],
    ["/public/info#top", "/public/info"],
    // The URL parser resolves "//.." against the empty segment: "/public/admin/users", public.
    ["/public//../admin/users", "/public/admin/users"],
    ["/public%3b/../admin/users", "/admin/users"],
  ])("%s reaches the upstream as %s, under that path's rule", async (target, forwarded) => {
    const anonymous = await upstreamSeen(() => raw(target));
    if (forwarded.startsWith("/admin")) {
      expect(anonymous.answer.status).toBe(401);
      expect(anonymous.seen).toEqual([]);
      const withoutScope = await upstreamSeen(() => raw(target, { headers: bearer() }));
      expect(withoutScope.answer.status).toBe(403);
      expect(withoutScope.seen).toEqual([]);
      const admin = await mintToken(gateway.key, { claims: { scope: "admin" } });
      const allowed = await upstreamSeen(() => raw(target, { headers: { authorization: `Bearer ${admin}` } }));
      expect(allowed.answer.status).toBe(200);
      expect(allowed.seen).toEqual([`GET ${forwarded}`]);
    } else {
      expect(anonymous.answer.status).toBe(200);
      expect(anonymous.seen).toEqual([`GET ${forwarded}`]);
    }
  });

  it("gives a spelling that differs in case or by a trailing slash its rule's requirements", async () => {
    for (const target of ["/ADMIN/users", "/Admin/Users/", "/admin/", "/REPORTS", "/reports/"]) {
      const { answer, seen } = await upstreamSeen(() => raw(target, { headers: bearer() }));
      expect([target, answer.status]).toEqual([target, 403]);
      expect(seen).toEqual([]);
    }
    // A public rule stays public only where every reading is public.
    expect((await raw("/PUBLIC/info")).status).toBe(401);
    expect((await raw("/public/INFO")).status).toBe(200);
  });

  it("applies a rule that lists GET to HEAD", async () => {
    const { answer, seen } = await upstreamSeen(() => raw("/reports", { method: "HEAD", headers: bearer() }));
    expect(answer.status).toBe(403);
    expect(seen).toEqual([]);
  });

  it("forwards legitimate spellings as they are (no false refusals)", async () => {
    const long = `/api/${"segment/".repeat(250)}end`;
    for (const [target, forwarded] of [
      ["/api/items?x=1", "/api/items?x=1"],
      ["/api/items?a=1;b=//c&d=%2F..%2F", "/api/items?a=1;b=//c&d=%2F..%2F"],
      ["/a%20b", "/a%20b"],
      ["/%C3%BCber", "/%C3%BCber"],
      ["/%c3%bcber", "/%C3%BCber"],
      ["/api/items/", "/api/items/"],
      ["/API/Items", "/API/Items"],
      ["/files/report.v2.pdf", "/files/report.v2.pdf"],
      [long, long],
    ] as const) {
      const { answer, seen } = await upstreamSeen(() => raw(target, { headers: bearer() }));
      expect([target, answer.status]).toEqual([target, 200]);
      expect(seen).toEqual([`GET ${forwarded}`]);
    }
  });
});

describe("methods", () => {
  it.each([
    [{ "x-http-method-override": "DELETE" }, "/orders/1"],
    [{ X_HTTP_Method_Override: "delete" }, "/orders/1"],
    [{ "x-http-method": "DELETE" }, "/orders/1"],
    [{ "x-method-override": "PUT" }, "/orders/1"],
    [{}, "/orders/1?_method=DELETE"],
    [{}, "/orders/1?%5Fmethod=delete"],
    [{}, "/orders/1?x=1&.method=DELETE"],
  ])("refuses a POST that names another method (%j %s)", async (headers, target) => {
    const { answer, seen } = await upstreamSeen(() =>
      raw(target, { method: "POST", headers: { ...bearer(), ...headers }, body: "" }),
    );
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body).detail).toContain("method override");
    expect(seen).toEqual([]);
  });

  it("passes an override that names the request's own method, without forwarding it", async () => {
    const response = await gateway.fetch("/api/things?_method=post", {
      method: "POST",
      headers: { ...bearer(), "x-http-method-override": "POST" },
      body: "{}",
    });
    expect(response.status).toBe(200);
    const seen = gateway.upstream.proxied().at(-1);
    expect(seen?.url).toBe("/api/things?_method=post");
    expect(seen?.headers["x-http-method-override"]).toBeUndefined();
  });

  it("judges a POST by the strictest rule of the methods its body could override it to", async () => {
    for (const [type, body] of [
      ["application/x-www-form-urlencoded", "_method=DELETE"],
      ["application/json", '{"_method":"DELETE"}'],
    ]) {
      const { answer, seen } = await upstreamSeen(() =>
        raw("/orders/1", { method: "POST", headers: { ...bearer(), "content-type": type }, body }),
      );
      expect(answer.status).toBe(403);
      expect(seen).toEqual([]);
    }
  });

  it('judges a POST as a POST with UPSTREAM_METHOD_OVERRIDE = "none"', async () => {
    const plain = await startGateway({
      upstream: gateway.upstream,
      vars: { ROUTES: JSON.stringify(ROUTES), UPSTREAM_METHOD_OVERRIDE: "none" },
    });
    try {
      const token = await mintToken(plain.key, { claims: { roles: ["member"] } });
      const response = await plain.fetch("/orders/1", {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: "{}",
      });
      expect(response.status).toBe(200);
    } finally {
      await plain.close();
    }
  });
});

describe("request headers: every spelling of what the gateway owns is dropped", () => {
  const hostile: Record<string, string> = {
    X_Auth_Subject: "admin",
    "X.Auth.Subject": "admin",
    "X-Auth_Roles": "operator",
    X_AUTH_SCOPES: "admin",
    "x-auth-session": "forged",
    X_Portcullis_Credential_Secret: "guess",
    X_Forwarded_For: "10.0.0.1",
    "X.Forwarded.Host": "evil.example",
    X_Forwarded_Proto: "http",
    Forwarded: "for=10.0.0.1",
    "X-Real-IP": "10.0.0.2",
    X_Real_Ip: "10.0.0.3",
    "True-Client-IP": "10.0.0.4",
    "X-Client-IP": "10.0.0.5",
    "X-Cluster-Client-IP": "10.0.0.6",
    CF_Connecting_IP: "10.0.0.7",
    "X-Original-URL": "/admin/users",
    "X-Rewrite-URL": "/admin/users",
    X_Original_Url: "/admin/users",
    "X-Forwarded-Prefix": "/admin",
  };

  async function cgiEnvironment(headers: Record<string, string>): Promise<Record<string, string[]>> {
    const response = await gateway.fetch("/cgi/env", {
      headers: { ...headers, ...hostile, "cf-connecting-ip": "192.0.2.9" },
    });
    expect(response.status).toBe(200);
    return (await response.json()) as Record<string, string[]>;
  }

  it("as a CGI-style upstream reads them: identity only from the gateway, addresses only from the platform", async () => {
    const environment = await cgiEnvironment(bearer());
    expect(environment.HTTP_X_AUTH_SUBJECT).toEqual(["user-7"]);
    expect(environment.HTTP_X_AUTH_ROLES).toEqual(["member"]);
    expect(environment.HTTP_X_AUTH_SCOPES).toEqual(["read write"]);
    expect(environment.HTTP_X_AUTH_SESSION).toEqual(["AAAAAAAAAAAAAAAAAAAAAA"]);
    expect(environment.HTTP_X_FORWARDED_FOR).toEqual(["192.0.2.9"]);
    expect(environment.HTTP_X_FORWARDED_HOST).toEqual([new URL(gateway.url).host]);
    for (const gone of [
      "HTTP_X_PORTCULLIS_CREDENTIAL_SECRET",
      "HTTP_FORWARDED",
      "HTTP_X_REAL_IP",
      "HTTP_TRUE_CLIENT_IP",
      "HTTP_X_CLIENT_IP",
      "HTTP_X_CLUSTER_CLIENT_IP",
      "HTTP_CF_CONNECTING_IP",
      "HTTP_X_ORIGINAL_URL",
      "HTTP_X_REWRITE_URL",
      "HTTP_X_FORWARDED_PREFIX",
    ]) {
      expect([gone, environment[gone]]).toEqual([gone, undefined]);
    }
  });

  it("on a public route too, where the gateway sets no identity", async () => {
    gateway.upstream.route("/public/cgi", (request, response) => {
      const names = [];
      for (let index = 0; index < request.rawHeaders.length; index += 2) names.push(request.rawHeaders[index]);
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(names));
    });
    const response = await gateway.fetch("/public/cgi", { headers: hostile });
    const names = ((await response.json()) as string[]).map((name) => name.toLowerCase().replace(/[_.]/g, "-"));
    expect(names.filter((name) => name.startsWith("x-auth-") || name.startsWith("x-portcullis-"))).toEqual([]);
    expect(names).not.toContain("x-original-url");
    expect(names).not.toContain("true-client-ip");
  });
});

describe("the answer: the upstream cannot speak for the gateway", () => {
  it("cannot set or clear the gateway's cookies, send Authorization, Proxy-Authenticate, Clear-Site-Data or the gateway's headers", async () => {
    const response = await gateway.fetch("/public/hostile");
    expect(response.status).toBe(200);
    expect(response.headers.getSetCookie()).toEqual(["app=1; Path=/"]);
    for (const name of [
      "authorization",
      "proxy-authenticate",
      "clear-site-data",
      "portcullis-degraded",
      "x-portcullis-thing",
    ]) {
      expect([name, response.headers.get(name)]).toEqual([name, null]);
    }
    expect(response.headers.get("x-custom")).toBe("kept");
    expect(await response.text()).toBe("hostile");
  });
});

describe("the gateway's own paths, under any spelling", () => {
  it.each([
    "/portcullis/credential-check",
    "/Portcullis/Credential-Check",
    "/portcullis/credential-check/",
    "/portcullis/%63redential-check",
    "/portcullis/./credential-check",
    "/x/../portcullis/credential-check",
    "/PORTCULLIS/credential-check/x",
  ])("never proxies the credential check: %s", async (target) => {
    const { answer, seen } = await upstreamSeen(() => raw(target, { method: "POST", headers: bearer(), body: "{}" }));
    expect(answer.status).toBe(404);
    expect(seen).toEqual([]);
  });

  it.each([
    ["POST", "/AUTH/LOGIN"],
    ["POST", "/auth/login/"],
    ["POST", "/Auth/Refresh"],
    ["GET", "/.well-known/JWKS.json"],
    ["DELETE", "/auth/sessions/abc/"],
  ])("answers a look-alike of a gateway endpoint 404 and never proxies it: %s %s", async (method, target) => {
    const { answer, seen } = await upstreamSeen(() => raw(target, { method, headers: bearer(), body: "" }));
    expect(answer.status).toBe(404);
    expect(seen).toEqual([]);
  });

  it("serves its endpoints at their own spelling, reached through an encoded letter too", async () => {
    expect((await raw("/.well-known/jwks.json")).status).toBe(200);
    expect((await raw("/.well-known/%6Awks.json")).status).toBe(200);
  });
});
