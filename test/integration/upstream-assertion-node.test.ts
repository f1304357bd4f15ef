/**
 * Per-route assertion audiences (a rule's `assertion_audience`), checked by the BUILT
 * `portcullis/assertion` entry in plain Node: the package's JavaScript is bundled as
 * `npm pack` ships it (scripts/build-package.mjs), and test/fixtures/assertion-upstream.mjs,
 * a node process of its own with a real Express 5 app and a Hono app on @hono/node-server,
 * imports it and checks what the bundled gateway forwards to it on 127.0.0.1.
 */
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";
import { decodeJwt, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requestHash } from "../../src/tokens/upstream-assertion";
import { ROOT } from "../support/build-worker";
import { runCli, writeProject } from "../support/cli";
import { AUDIENCE, type Gateway, ISSUER, startGateway } from "../support/gateway";
import { makeKey, TEST_SECRETS } from "../support/test-keys";
import { mintToken } from "../support/tokens";

const BILLING = "https://billing.internal";
const LEDGER = "https://ledger.internal";
const ROUTES = [
  { path: "/public/*", public: true },
  { path: "/billing/*", assertion_audience: BILLING },
  { path: "/ledger/*", assertion_audience: LEDGER },
];
const BUILT = path.join(ROOT, `dist/test-assertion-node-${process.pid}`);

let upstream: ChildProcessWithoutNullStreams;
let upstreamUrl: string;
let gateway: Gateway;
let bearer: { authorization: string };

/** Resolves with the upstream's next line of output that matches `pattern`. */
function lineOf(child: ChildProcessWithoutNullStreams, pattern: RegExp): Promise<RegExpExecArray> {
  const lines = createInterface({ input: child.stdout });
  return new Promise((resolve, reject) => {
    let errors = "";
    child.stderr.on("data", (chunk) => {
      errors += chunk;
    });
    child.once("exit", (code) => reject(new Error(`the upstream exited (${code}): ${errors}`)));
    lines.on("line", (line) => {
      const found = pattern.exec(line);
      if (found === null) return;
      lines.close();
      resolve(found);
    });
  });
}

beforeAll(async () => {
  // The package's JavaScript, bundled exactly as prepack bundles it, next to node_modules (for jose).
  const build = pathToFileURL(path.join(ROOT, "scripts/build-package.mjs")).href;
  execFileSync(process.execPath, [
    "--input-type=module",
    "-e",
    `await (await import(${JSON.stringify(build)})).bundleEntryPoints(${JSON.stringify(BUILT)});`,
  ]);
  upstream = spawn(process.execPath, [
    path.join(ROOT, "test/fixtures/assertion-upstream.mjs"),
    path.join(BUILT, "assertion/index.js"),
  ]);
  const [, port] = await lineOf(upstream, /^listening (\d+)$/);
  upstreamUrl = `http://127.0.0.1:${port}`;
  gateway = await startGateway({
    vars: { UPSTREAM_ASSERTION: "true", UPSTREAM_URL: upstreamUrl, ROUTES: JSON.stringify(ROUTES) },
  });
  const ready = lineOf(upstream, /^ready$/);
  const audiences = { default: upstreamUrl, billing: BILLING, ledger: LEDGER };
  upstream.stdin.write(
    `${JSON.stringify({ jwksUrl: `${gateway.url}/.well-known/jwks.json`, issuer: ISSUER, audiences })}\n`,
  );
  await ready;
  // Login asks the upstream's credential check, which this upstream has not: a token of the gateway's key.
  bearer = { authorization: `Bearer ${await mintToken(gateway.key)}` };
});

afterAll(async () => {
  upstream?.kill();
  await gateway?.close();
  rmSync(BUILT, { recursive: true, force: true });
});

/** What the upstream answers a request it accepts (and the gateway's problem, when it refuses one). */
interface Answer {
  readonly sub?: string;
  readonly scopes?: string[];
  readonly aud?: unknown;
  /** The assertion the upstream received. */
  readonly assertion: string;
  readonly runtime?: string;
}

/** Through the gateway: its status and the upstream's JSON answer. */
async function viaGateway(target: string, init: RequestInit = {}) {
  const response = await gateway.fetch(target, { ...init, headers: { ...bearer, ...init.headers } });
  return {
    status: response.status,
    type: response.headers.get("content-type"),
    body: (await response.json()) as Answer,
  };
}

/** Straight to the upstream, around the gateway, with an assertion taken from elsewhere. */
async function direct(target: string, assertion: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${upstreamUrl}${target}`, {
    headers: { "portcullis-assertion": assertion, ...headers },
  });
  return { status: response.status, body: (await response.json()) as { refused?: string } };
}

describe("the built portcullis/assertion in plain Node", () => {
  it("accepts what the gateway forwards, in Express and in Hono on @hono/node-server", async () => {
    const express = await viaGateway("/api/me?page=2");
    expect(express).toMatchObject({ status: 200, body: { sub: "user-alice", scopes: ["read", "write"] } });
    expect(express.body.aud).toBe(upstreamUrl);
    const hono = await viaGateway("/hono/me");
    expect(hono).toMatchObject({ status: 200, body: { sub: "user-alice", runtime: `node ${process.versions.node}` } });
  });

  it("refuses requests that go around the gateway", async () => {
    expect((await fetch(`${upstreamUrl}/api/me`, { headers: bearer })).status).toBe(401);
    expect((await fetch(`${upstreamUrl}/hono/me`, { headers: bearer })).status).toBe(401);
  });

  it("refuses an expired assertion, and one signed by another key under the gateway's kid", async () => {
    const { body } = await viaGateway("/api/expiring");
    expect(await direct("/api/expiring", body.assertion, { "x-verify-as": "late" })).toMatchObject({
      status: 401,
      body: { refused: "expired" },
    });
    const other = await makeKey("EdDSA", gateway.key.privateJwk.kid as string);
    const forged = await new SignJWT({ sub: "user-admin", htm: "GET", req: await requestHash("GET", "/api/x") })
      .setProtectedHeader({ alg: "EdDSA", typ: "portcullis-assertion+jwt", kid: other.privateJwk.kid })
      .setIssuer(ISSUER)
      .setAudience(upstreamUrl)
      .setIssuedAt()
      .setExpirationTime("60s")
      .setJti(crypto.randomUUID())
      .sign(other.privateKey);
    expect(await direct("/api/x", forged)).toMatchObject({ status: 401, body: { refused: "invalid" } });
  });
});

describe("an audience per route", () => {
  it("is the aud of the assertion on the rule's routes, and UPSTREAM_ASSERTION_AUDIENCE elsewhere", async () => {
    const billing = await viaGateway("/billing/invoices/7");
    expect(billing).toMatchObject({ status: 200, body: { sub: "user-alice", aud: BILLING } });
    expect(decodeJwt(billing.body.assertion).aud).toBe(BILLING);
    expect((await viaGateway("/ledger/entries")).body.aud).toBe(LEDGER);
    expect((await viaGateway("/api/other")).body.aud).toBe(upstreamUrl);
  });

  it("keeps an assertion made for one route's service from passing another service's check", async () => {
    const { body } = await viaGateway("/billing/invoices/7");
    const stolen = body.assertion as string;
    // The very request it was made for, checked as billing checks it: accepted.
    expect((await direct("/billing/invoices/7", stolen)).status).toBe(200);
    // The same method and path, so the request binding holds: the ledger's check refuses it for its audience alone.
    expect(await direct("/billing/invoices/7", stolen, { "x-verify-as": "ledger" })).toMatchObject({
      status: 401,
      body: { refused: "invalid" },
    });
    expect(await direct("/billing/invoices/7", stolen, { "x-verify-as": "default" })).toMatchObject({
      status: 401,
      body: { refused: "invalid" },
    });
    // Replayed on the ledger's route: refused there too.
    expect((await direct("/ledger/invoices/7", stolen)).status).toBe(401);
  });

  it("refuses (400) a path whose readings are decided by rules with different audiences; the upstream never sees it", async () => {
    const conflicts = ["/Billing/invoices/7", "/BILLING/x"];
    for (const target of conflicts) {
      const answer = await viaGateway(target);
      expect([target, answer.status, answer.type]).toEqual([target, 400, "application/problem+json"]);
    }
    const seen = (await (await fetch(`${upstreamUrl}/__seen`)).json()) as string[];
    expect(seen.filter((target) => conflicts.includes(target))).toEqual([]);
    await gateway.waitForLog((line) => line.includes("different assertion audiences"));
  });

  it("is shown by portcullis explain, and a conflict is explained as the Worker answers it", async () => {
    const { dir, config } = writeProject({
      vars: {
        PORTCULLIS_ENV: "production",
        UPSTREAM_URL: "https://api.example.com",
        TOKEN_ISSUER: ISSUER,
        TOKEN_AUDIENCE: AUDIENCE,
        UPSTREAM_ASSERTION: true,
        ROUTES,
      },
      secrets: { SIGNING_KEYS: "[]", CREDENTIAL_CHECK_SECRET: TEST_SECRETS.CREDENTIAL_CHECK_SECRET },
    });
    try {
      const claims = JSON.stringify({ scope: "read" });
      const [billing, conflict] = await Promise.all([
        runCli(["explain", "GET", "/billing/invoices/7", "--config", config, "--claims", claims]),
        runCli(["explain", "GET", "/Billing/invoices/7", "--config", config, "--claims", claims]),
      ]);
      expect(billing.stdout, billing.output).toContain(
        `the route requires: any valid token; assertion audience ${BILLING}`,
      );
      expect(billing.stdout).toMatch(/^answer: forwarded/m);
      expect(conflict.stdout, conflict.output).toContain("assertion audiences that differ between readings");
      expect(conflict.stdout).toMatch(/^answer: 400/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
