/**
 * Differential test against real upstream frameworks: the gateway judges a request by its
 * path and method, the upstream then reads the same request its own way (case-insensitive,
 * trailing slash optional, %XX decoded, `;params` stripped, `//` merged, GET handlers for
 * HEAD, method overrides). Every spelling of a protected path is sent raw, through the
 * gateway, to Express, Hono, Fastify, Koa and emulations of a plain Node router, a servlet
 * container, nginx and Laravel, and the suite checks what actually ran: no handler may run
 * for an identity that lacks its grants, every 400 is a clean refusal that reached nobody,
 * and nothing is a 5xx.
 */
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type DifferentialUpstreams,
  startDifferentialUpstreams,
  UPSTREAM_NAMES,
  type UpstreamName,
} from "../support/differential/differential-server";
import { HANDLERS, type HandlerId, PROBE_HEADER, UPSTREAM_HEADER } from "../support/differential/handlers";
import { pathSpellings, type Spelling } from "../support/differential/path-spellings";
import { mapBounded, type RawAnswer, SENDABLE_TARGET, sendRaw } from "../support/differential/raw-request";
import { type AccessRule, handlerGrants, holds, type Identity } from "../support/differential/required-grants";
import { type Gateway, startGateway } from "../support/gateway";
import { mintToken } from "../support/tokens";

const RULES = [
  { path: "/public/*", public: true },
  { path: "/health", public: true },
  { path: "/admin", scopes: ["admin"] },
  { path: "/admin/*", scopes: ["admin"] },
  { path: "/reports", methods: ["GET"], scopes: ["reports"] },
  { path: "/orders/*", methods: ["DELETE"], roles: ["operator"] },
] as const satisfies readonly AccessRule[];

const IDENTITIES: readonly Identity[] = [
  { name: "anonymous", authenticated: false, scopes: [], roles: [] },
  { name: "member", authenticated: true, scopes: ["read", "write"], roles: ["member"] },
  { name: "admin", authenticated: true, scopes: ["read", "write", "admin", "reports"], roles: ["operator"] },
];

const IN_FLIGHT = 16;
const GRANTS = handlerGrants(RULES);
const SPELLINGS = pathSpellings().filter((spelling) => SENDABLE_TARGET.test(spelling.raw));

/** One way of sending a spelling: the method, and what comes with it. */
interface Variant {
  readonly label: string;
  readonly method: string;
  readonly target: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

/** Adds a query parameter to a raw target, before any fragment. */
function withQuery(target: string, parameter: string): string {
  const hash = target.indexOf("#");
  const [path, fragment] = hash === -1 ? [target, ""] : [target.slice(0, hash), target.slice(hash)];
  return `${path}${path.includes("?") ? "&" : "?"}${parameter}${fragment}`;
}

const VARIANTS = {
  GET: (target: string): Variant => ({ label: "GET", method: "GET", target }),
  HEAD: (target: string): Variant => ({ label: "HEAD", method: "HEAD", target }),
  "POST X-HTTP-Method-Override: DELETE": (target: string): Variant => ({
    label: "POST X-HTTP-Method-Override: DELETE",
    method: "POST",
    target,
    headers: { "x-http-method-override": "DELETE" },
  }),
  "POST ?_method=DELETE": (target: string): Variant => ({
    label: "POST ?_method=DELETE",
    method: "POST",
    target: withQuery(target, "_method=DELETE"),
  }),
  "POST body _method=DELETE": (target: string): Variant => ({
    label: "POST body _method=DELETE",
    method: "POST",
    target,
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "_method=DELETE",
  }),
  'POST body {"_method":"DELETE"}': (target: string): Variant => ({
    label: 'POST body {"_method":"DELETE"}',
    method: "POST",
    target,
    headers: { "content-type": "application/json" },
    body: '{"_method":"DELETE"}',
  }),
} as const;
type VariantLabel = keyof typeof VARIANTS;

const OVERRIDES: readonly VariantLabel[] = [
  "POST X-HTTP-Method-Override: DELETE",
  "POST ?_method=DELETE",
  "POST body _method=DELETE",
  'POST body {"_method":"DELETE"}',
];

/** GET for every spelling; HEAD too for /reports; the four method overrides too for /orders/1. */
function variantsOf(spelling: Spelling): Variant[] {
  const labels: VariantLabel[] = ["GET"];
  if (spelling.target === "/reports") labels.push("HEAD");
  if (spelling.target === "/orders/1") labels.push(...OVERRIDES);
  return labels.map((label) => VARIANTS[label](spelling.raw));
}

let upstreams: DifferentialUpstreams;
let gateway: Gateway;
let agent: http.Agent;
const authorization = new Map<string, string>();
let probeCount = 0;

beforeAll(async () => {
  upstreams = await startDifferentialUpstreams();
  gateway = await startGateway({
    upstream: upstreams.upstream,
    vars: { ROUTES: JSON.stringify(RULES) },
    keepLogs: false,
  });
  agent = new http.Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
  for (const identity of IDENTITIES) {
    if (!identity.authenticated) continue;
    const claims = { scope: identity.scopes.join(" "), roles: [...identity.roles] };
    authorization.set(identity.name, `Bearer ${await mintToken(gateway.key, { claims })}`);
  }
});
afterAll(async () => {
  agent?.destroy();
  await gateway?.close();
  await upstreams?.close();
});

const portOf = (url: string): number => Number(new URL(url).port);

interface Sent {
  readonly probe: string;
  readonly answer: RawAnswer;
}

/** Sends one variant raw to `port` with a fresh probe number, as `upstream` and `identity`. */
async function send(port: number, upstream: UpstreamName, variant: Variant, identity?: Identity): Promise<Sent> {
  probeCount += 1;
  const probe = String(probeCount);
  const token = identity === undefined ? undefined : authorization.get(identity.name);
  const headers: Record<string, string> = {
    [UPSTREAM_HEADER]: upstream,
    [PROBE_HEADER]: probe,
    ...variant.headers,
    ...(token === undefined ? {} : { authorization: token }),
  };
  if (variant.body !== undefined) headers["content-length"] = String(Buffer.byteLength(variant.body));
  const answer = await sendRaw({
    port,
    target: variant.target,
    method: variant.method,
    headers,
    body: variant.body,
    agent,
  });
  return { probe, answer };
}

const handlersHit = (probe: string): HandlerId[] => upstreams.log.hitsOf(probe).map((hit) => hit.handler);

const PROTECTED = HANDLERS.filter((handler) => !GRANTS[handler.id].public).map((handler) => handler.id);

describe("the harness", () => {
  it("routes the canonical path of every handler to that handler, on every upstream", async () => {
    const port = portOf(upstreams.upstream.url);
    const cases = UPSTREAM_NAMES.flatMap((upstream) => HANDLERS.map((handler) => ({ upstream, handler })));
    const results = await mapBounded(cases, IN_FLIGHT, async ({ upstream, handler }) => {
      const { probe, answer } = await send(port, upstream, {
        label: handler.method,
        method: handler.method,
        target: handler.canonical,
      });
      return { upstream, status: answer.status, expected: handler.id, hit: handlersHit(probe) };
    });
    const wrong = results.filter((result) => result.status !== 200 || result.hit.join() !== result.expected);
    expect(wrong).toEqual([]);
  });

  it.each([
    ["express", "GET", "/ADMIN/users", "admin-users"],
    ["express", "HEAD", "/reports/", "reports"],
    ["express", "POST X-HTTP-Method-Override: DELETE", "/orders/1", "order-delete"],
    ["express", "POST ?_method=DELETE", "/orders/1", "order-delete"],
    ["hono", "GET", "/%61dmin/users", "admin-users"],
    ["hono", "HEAD", "/reports", "reports"],
    ["fastify", "GET", "/%61dmin/users", "admin-users"],
    ["fastify", "HEAD", "/reports", "reports"],
    ["koa", "GET", "/Admin/Users/", "admin-users"],
    ["koa", "HEAD", "/REPORTS", "reports"],
    ["node", "GET", "/public\\..\\admin/users", "admin-users"],
    ["node", "GET", "/%61dmin/users", "admin-users"],
    ["servlet", "GET", "/public/..;/admin/users", "admin-users"],
    ["servlet", "GET", "/public/%2e%2e/admin;x/users", "admin-users"],
    ["nginx", "GET", "//admin/users", "admin-users"],
    ["nginx", "GET", "/public%2f..%2fadmin/users", "admin-users"],
    ["laravel", "POST body _method=DELETE", "/orders/1", "order-delete"],
    ["laravel", 'POST body {"_method":"DELETE"}', "/orders/1", "order-delete"],
  ] as const)("%s, asked directly, serves %s %s to %s", async (upstream, label, target, expected) => {
    const { probe, answer } = await send(portOf(upstreams.upstream.url), upstream, VARIANTS[label](target));
    expect(answer.status).toBe(200);
    expect(handlersHit(probe)).toEqual([expected]);
  });

  it("serves some loose GET spellings to protected handlers on every upstream, asked directly", {
    timeout: 60_000,
  }, async () => {
    const port = portOf(upstreams.upstream.url);
    // A fragment or a query leaves the path itself as it is: those prove nothing here.
    const loose = SPELLINGS.filter((spelling) => spelling.family !== "fragment" && spelling.family !== "query");
    const cases = UPSTREAM_NAMES.flatMap((upstream) => loose.map((spelling) => ({ upstream, spelling })));
    const reached = new Map<UpstreamName, string[]>(UPSTREAM_NAMES.map((name) => [name, []]));
    await mapBounded(cases, IN_FLIGHT, async ({ upstream, spelling }) => {
      const { probe } = await send(port, upstream, { label: "GET", method: "GET", target: spelling.raw });
      const protectedHits = handlersHit(probe).filter((handler) => PROTECTED.includes(handler));
      if (protectedHits.length > 0) reached.get(upstream)?.push(`${spelling.raw} -> ${protectedHits.join()}`);
    });
    const counts = Object.fromEntries([...reached].map(([name, list]) => [name, list.length]));
    console.info(`loose spellings that reach a protected handler directly: ${JSON.stringify(counts)}`);
    for (const [name, list] of reached) expect(list.length, `${name} served no loose spelling`).toBeGreaterThan(0);
  });
});

/** Something the suite found, for one upstream. */
interface Finding {
  readonly upstream: UpstreamName;
  readonly line: string;
}

/** A readable failure: how many per upstream, then the first 30, taken from each upstream in turn. */
function report(what: string, findings: readonly Finding[]): string {
  const byUpstream = UPSTREAM_NAMES.map((name) => findings.filter((each) => each.upstream === name));
  const counts = Object.fromEntries(UPSTREAM_NAMES.map((name, index) => [name, byUpstream[index]?.length ?? 0]));
  const first: string[] = [];
  for (let round = 0; first.length < Math.min(30, findings.length); round += 1) {
    for (const list of byUpstream) {
      const finding = list[round];
      if (finding !== undefined && first.length < 30) first.push(`  ${finding.line}`);
    }
  }
  return `${findings.length} ${what} ${JSON.stringify(counts)}; the first ${first.length}:\n${first.join("\n")}\n`;
}

describe("every spelling through the gateway", () => {
  it("reaches no handler whose grants the identity lacks, refuses cleanly and never answers 5xx", {
    timeout: 120_000,
  }, async () => {
    const port = portOf(gateway.url);
    const cases = UPSTREAM_NAMES.flatMap((upstream) =>
      SPELLINGS.flatMap((spelling) =>
        variantsOf(spelling).flatMap((variant) => IDENTITIES.map((identity) => ({ upstream, variant, identity }))),
      ),
    );
    const violations: Finding[] = [];
    const uncleanRefusals: Finding[] = [];
    const serverErrors: Finding[] = [];
    const statuses = new Map<number, number>();
    const started = performance.now();
    await mapBounded(cases, IN_FLIGHT, async ({ upstream, variant, identity }) => {
      const { probe, answer } = await send(port, upstream, variant, identity);
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
      const request = `${upstream} ${identity.name} ${variant.label} ${variant.target}`;
      const hits = upstreams.log.hitsOf(probe);
      const forbidden = hits.filter((hit) => !holds(identity, GRANTS[hit.handler]));
      if (forbidden.length > 0) {
        const handlers = forbidden.map((hit) => `${hit.handler} (as ${hit.method} ${hit.url})`).join(", ");
        violations.push({ upstream, line: `${request} -> ${answer.status} at ${handlers}` });
      }
      if (answer.status === 400) {
        const arrival = upstreams.log.arrivalOf(probe);
        if (arrival !== undefined) {
          uncleanRefusals.push({ upstream, line: `${request} -> 400 from the upstream (${arrival.url})` });
        } else if (!answer.contentType.startsWith("application/problem+json")) {
          uncleanRefusals.push({ upstream, line: `${request} -> 400 as ${answer.contentType || "no content type"}` });
        }
      }
      if (answer.status >= 500) {
        serverErrors.push({ upstream, line: `${request} -> ${answer.status} ${answer.body.slice(0, 100)}` });
      }
    });
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.info(
      `${SPELLINGS.length} spellings, ${cases.length} requests through the gateway in ${seconds} s`,
      Object.fromEntries(statuses),
    );
    expect.soft(violations.length, report("requests reached a handler without its grants", violations)).toBe(0);
    expect.soft(uncleanRefusals.length, report("400 answers were not clean refusals", uncleanRefusals)).toBe(0);
    expect.soft(serverErrors.length, report("answers were 5xx", serverErrors)).toBe(0);
  });
});

describe("legitimate requests through the gateway", () => {
  it.each([
    ["/api/items?x=1", "api-items"],
    ["/api/items?a=1;b=//c", "api-items"],
    ["/public/info", "public-info"],
    ["/admin/users", "admin-users"],
  ] as const)("%s reaches %s on every upstream, for the admin", async (target, expected) => {
    const admin = IDENTITIES.find((identity) => identity.name === "admin");
    const results = await mapBounded(UPSTREAM_NAMES, IN_FLIGHT, async (upstream) => {
      const { probe, answer } = await send(portOf(gateway.url), upstream, VARIANTS.GET(target), admin);
      const body = answer.status === 200 ? (JSON.parse(answer.body) as { handler?: string }) : {};
      return { upstream, status: answer.status, answered: body.handler, hit: handlersHit(probe) };
    });
    expect(results).toEqual(
      UPSTREAM_NAMES.map((upstream) => ({ upstream, status: 200, answered: expected, hit: [expected] })),
    );
  });
});
