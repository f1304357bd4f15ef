/**
 * Route conditions through the bundled Worker in miniflare, with a real upstream: claims of
 * a minted token, and where the request comes from. `request.cf` and the platform's
 * CF-Connecting-IP are set per request with `mf.dispatchFetch(url, { cf, headers })`, as
 * Cloudflare's edge sets them. Over a real socket, miniflare fills CF-Connecting-IP from
 * the socket's address (127.0.0.1) when the client sent none; it keeps one a client sent,
 * which Cloudflare's edge does not (docs/policy.md): so what these tests prove about
 * spoofing is that the gateway reads the client address from that one header, exactly
 * named, and from nothing a client can add beside it.
 */
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sendRaw } from "../support/differential/raw-request";
import { type Gateway, startGateway } from "../support/gateway";
import { expiredTokenFor, login, refreshCookieHeader } from "../support/session-helpers";
import { mintToken } from "../support/tokens";

const ROUTES = [
  {
    path: "/staff/*",
    require: {
      all: [{ email_domain: ["example.com"] }, { claim: "org.id", equals: "acme" }, { groups: ["staff"] }],
    },
  },
  { path: "/office/*", require: { ip: ["198.51.100.0/24", "2001:db8::/32"] } },
  { path: "/loopback/*", require: { ip: ["127.0.0.0/8", "::1"] } },
  { path: "/eu/*", require: { all: [{ country: ["DE", "FR"] }, { not: { asn: [64496] } }] } },
  { path: "/mtls/*", require: { client_certificate: "verified" } },
  { path: "/members/*", require: { claim: "roles", any_of: ["member"] } },
];

let gateway: Gateway;
const agent = new http.Agent({ keepAlive: true });

beforeAll(async () => {
  gateway = await startGateway({ vars: { ROUTES: JSON.stringify(ROUTES) } });
});

afterAll(async () => {
  agent.destroy();
  await gateway?.close();
});

const STAFF = { email: "ada@example.com", email_verified: true, org: { id: "acme" }, groups: ["staff"] };

async function bearer(claims: Record<string, unknown> = {}): Promise<string> {
  return `Bearer ${await mintToken(gateway.key, { claims })}`;
}

/** A request as the edge would hand it over: the platform's headers and `request.cf` set. */
async function dispatch(path: string, init: { claims?: Record<string, unknown>; ip?: string; cf?: object } = {}) {
  const headers: Record<string, string> = { authorization: await bearer(init.claims) };
  if (init.ip !== undefined) headers["cf-connecting-ip"] = init.ip;
  const response = await gateway.mf.dispatchFetch(new URL(path, gateway.url).href, {
    headers,
    ...(init.cf !== undefined ? { cf: init.cf } : {}),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text };
}

function reached(path: string): boolean {
  return gateway.upstream.proxied().some((request) => request.url === path);
}

describe("claims", () => {
  it("forwards a token whose claims meet every condition", async () => {
    expect((await dispatch("/staff/ok", { claims: STAFF })).status).toBe(200);
    expect(reached("/staff/ok")).toBe(true);
  });

  it("refuses 403 insufficient_scope, names the failed condition in the log and nowhere in the answer", async () => {
    const answer = await dispatch("/staff/unverified", { claims: { ...STAFF, email_verified: false } });
    expect(answer.status).toBe(403);
    expect(answer.headers.get("www-authenticate")).toBe('Bearer realm="portcullis", error="insufficient_scope"');
    expect(JSON.parse(answer.text)).toMatchObject({ error: "insufficient_scope", title: "Insufficient scope" });
    expect(answer.text).not.toContain("email");
    expect(reached("/staff/unverified")).toBe(false);
    const [line] = await gateway.waitForLog(
      (entry) => entry.includes('"request_refused"') && entry.includes("email_domain in [example.com]"),
    );
    expect(JSON.parse(line as string)).toMatchObject({
      code: "insufficient_scope",
      status: 403,
      detail: "condition failed: email_domain in [example.com]",
    });
  });

  it("refuses a token missing a claim, or holding it with the wrong type", async () => {
    const { org: _org, ...withoutOrg } = STAFF;
    expect((await dispatch("/staff/a", { claims: withoutOrg })).status).toBe(403);
    expect((await dispatch("/staff/b", { claims: { ...STAFF, org: "acme" } })).status).toBe(403);
    expect((await dispatch("/staff/c", { claims: { ...STAFF, groups: { staff: true } } })).status).toBe(403);
  });

  it("judges the gateway's own token after a transparent refresh on the claims it carries", async () => {
    const session = await login(gateway, "alice");
    const expired = await expiredTokenFor(gateway, session);
    const response = await gateway.fetch("/members/after-refresh", {
      headers: { authorization: `Bearer ${expired}`, cookie: refreshCookieHeader(session.refreshToken) },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("authorization")).toMatch(/^Bearer /);
    const admin = await login(gateway, "admin");
    const refused = await gateway.fetch("/members/admin", {
      headers: {
        authorization: `Bearer ${await expiredTokenFor(gateway, admin)}`,
        cookie: refreshCookieHeader(admin.refreshToken),
      },
    });
    expect(refused.status).toBe(403);
  });
});

describe("the client address", () => {
  it("matches IPv4, IPv4-mapped IPv6 and IPv6 addresses from the platform's CF-Connecting-IP", async () => {
    expect((await dispatch("/office/v4", { ip: "198.51.100.7" })).status).toBe(200);
    expect((await dispatch("/office/mapped", { ip: "::ffff:198.51.100.7" })).status).toBe(200);
    expect((await dispatch("/office/v6", { ip: "2001:db8:1::7" })).status).toBe(200);
  });

  it("refuses an address outside the ranges 403 access_denied, without a bearer challenge", async () => {
    const answer = await dispatch("/office/outside", { ip: "203.0.113.7" });
    expect(answer.status).toBe(403);
    expect(answer.headers.get("www-authenticate")).toBeNull();
    expect(JSON.parse(answer.text)).toMatchObject({ error: "access_denied", title: "Access denied", status: 403 });
    expect(answer.text).not.toContain("198.51.100");
    expect(reached("/office/outside")).toBe(false);
    await gateway.waitForLog((entry) => entry.includes("condition failed: ip in [198.51.100.0/24, 2001:db8::/32]"));
  });

  it("over a real socket, reads the address the platform set (127.0.0.1 here), whatever else the client sends", async () => {
    const port = Number(new URL(gateway.url).port);
    const authorization = await bearer();
    const send = (target: string, headers: Record<string, string> = {}) =>
      sendRaw({ port, target, method: "GET", headers: { authorization, ...headers }, agent });
    expect((await send("/loopback/socket")).status).toBe(200);
    const spoofs = {
      "x-forwarded-for": "198.51.100.7",
      "x-real-ip": "198.51.100.7",
      "true-client-ip": "198.51.100.7",
      forwarded: "for=198.51.100.7",
      cf_connecting_ip: "198.51.100.7",
      "cf-connecting-ipv6": "2001:db8::7",
    };
    for (const [name, value] of Object.entries(spoofs)) {
      expect([name, (await send("/office/spoof", { [name]: value })).status]).toEqual([name, 403]);
    }
    expect(reached("/office/spoof")).toBe(false);
  });

  it("miniflare, unlike Cloudflare's edge, keeps a CF-Connecting-IP the client sent: the edge's overwrite is not provable here", async () => {
    const port = Number(new URL(gateway.url).port);
    const authorization = await bearer();
    const sent = await sendRaw({
      port,
      target: "/office/miniflare-keeps",
      method: "GET",
      headers: { authorization, "cf-connecting-ip": "198.51.100.7" },
      agent,
    });
    expect(sent.status).toBe(200);
  });
});

describe("request.cf", () => {
  it("country and ASN", async () => {
    expect((await dispatch("/eu/de", { cf: { country: "DE", asn: 13335 } })).status).toBe(200);
    expect((await dispatch("/eu/us", { cf: { country: "US", asn: 13335 } })).status).toBe(403);
    const denied = await dispatch("/eu/asn", { cf: { country: "FR", asn: 64496 } });
    expect(denied.status).toBe(403);
    expect(JSON.parse(denied.text)).toMatchObject({ error: "access_denied" });
    await gateway.waitForLog((entry) => entry.includes("condition failed: not(asn in [64496])"));
  });

  it("a client certificate only when API Shield verified it", async () => {
    const verified = { tlsClientAuth: { certPresented: "1", certVerified: "SUCCESS" } };
    const failed = { tlsClientAuth: { certPresented: "1", certVerified: "FAILED:self signed certificate" } };
    const none = { tlsClientAuth: { certPresented: "0", certVerified: "NONE" } };
    expect((await dispatch("/mtls/ok", { cf: verified })).status).toBe(200);
    expect((await dispatch("/mtls/failed", { cf: failed })).status).toBe(403);
    expect((await dispatch("/mtls/none", { cf: none })).status).toBe(403);
  });
});
