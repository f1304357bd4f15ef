/**
 * `portcullis explain` agrees with the Worker. One table of requests (method, the path as
 * sent on the request line, headers, who sends it) and the status the client gets: each is
 * sent raw to the bundled Worker in miniflare, with a token minted for the identity, and
 * explained by the command (its entry point, in this process) against a wrangler.toml with
 * the same ROUTES; both must give the table's answer (200: the request reached the
 * upstream, which the command calls "forwarded"). The other tests run the command as a
 * process, as a user does.
 */
import { rmSync } from "node:fs";
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../src/cli/main";
import { type CliRun, runCli, writeProject } from "../support/cli";
import { mapBounded, sendRaw } from "../support/differential/raw-request";
import { AUDIENCE, type Gateway, ISSUER, startGateway } from "../support/gateway";
import { TEST_SECRETS } from "../support/test-keys";
import { mintToken } from "../support/tokens";

const ROUTES = [
  { path: "/health", public: true },
  { path: "/public/*", public: true },
  { path: "/admin/*", scopes: ["admin"] },
  { path: "/orders/*", methods: ["DELETE"], roles: ["operator"] },
  { path: "/reports/*", methods: ["GET"], public: true },
  { path: "/payments/*", revocation: "strict" },
  { path: "/transfers/*", dpop: "required" },
  {
    path: "/staff/*",
    require: { all: [{ email_domain: ["example.com"] }, { claim: "org.id", any_of: ["acme", "globex"] }] },
  },
  { path: "/office/*", require: { ip: ["198.51.100.0/24", "2001:db8::/32"] } },
];

type Claims = Record<string, unknown>;

/** method, request-target as sent, the token's claims (null: no token), headers, the status the client gets. */
const REQUESTS: readonly [string, string, Claims | null, Record<string, string>, number][] = [
  ["GET", "/health", null, {}, 200],
  ["GET", "/admin/users", null, {}, 401],
  ["GET", "/admin/users", { scope: "read" }, {}, 403],
  ["GET", "/admin/users", { scope: "read admin" }, {}, 200],
  ["GET", "/ADMIN/users", { scope: "read" }, {}, 403],
  ["GET", "/admin/", { scope: "read" }, {}, 403],
  ["GET", "/public/%2e%2e/admin/users", { scope: "read" }, {}, 403],
  ["GET", "/public//x", null, {}, 400],
  ["GET", "/public/a;b", null, {}, 400],
  ["GET", "/public/..%2Fadmin", null, {}, 400],
  ["DELETE", "/orders/7", { scope: "read", roles: ["member"] }, {}, 403],
  ["DELETE", "/orders/7", { scope: "read", roles: ["operator"] }, {}, 200],
  ["POST", "/orders/7", { scope: "read" }, {}, 403],
  ["GET", "/orders/7", { scope: "read" }, {}, 200],
  ["POST", "/public/x?_method=DELETE", null, {}, 400],
  ["GET", "/public/x", null, { "x-http-method-override": "DELETE" }, 400],
  ["GET", "/reports/q", null, {}, 200],
  ["POST", "/reports/q", null, {}, 401],
  ["GET", "/Portcullis/Credential-Check", null, {}, 404],
  ["GET", "/AUTH/REFRESH", null, {}, 404],
  ["GET", "/auth/login", null, {}, 405],
  ["GET", "/payments/1", { scope: "read", sid: null }, {}, 401],
  ["GET", "/orders/7", { scope: ["read"] }, {}, 401],
  ["POST", "/transfers/1", { scope: "read" }, {}, 401],
  ["POST", "/Transfers/1", { scope: "read" }, {}, 401],
  ["GET", "/staff/x", { email: "a@example.com", org: { id: "acme" } }, {}, 200],
  ["GET", "/Staff/x", { email: "a@example.com", email_verified: false, org: { id: "acme" } }, {}, 403],
  ["GET", "/staff/x", { email: "a@example.com", org: { id: "initech" } }, {}, 403],
  ["GET", "/office/x", { scope: "read" }, { "cf-connecting-ip": "198.51.100.7" }, 200],
  ["GET", "/office/x", { scope: "read" }, { "cf-connecting-ip": "::ffff:198.51.100.7" }, 200],
  ["GET", "/office/x", { scope: "read" }, { "cf-connecting-ip": "203.0.113.7" }, 403],
  ["GET", "/office/x", { scope: "read" }, { "cf-connecting-ip": "2001:db8::1" }, 200],
];

let gateway: Gateway;
let dir: string;
let config: string;
/**
 * A new connection for each request. workerd closes a connection that has been idle for 5 s
 * (measured; it sends no Keep-Alive header saying so), and each lane of the table used to
 * send its next request after a run of the command as a process, which took about that long
 * on a loaded machine: a kept-alive socket reused just as workerd closed it failed the table
 * with "socket hang up".
 */
const agent = new http.Agent({ keepAlive: false });

beforeAll(async () => {
  gateway = await startGateway({ vars: { ROUTES: JSON.stringify(ROUTES) } });
  ({ dir, config } = writeProject({
    vars: {
      PORTCULLIS_ENV: "production",
      UPSTREAM_URL: "https://api.example.com",
      TOKEN_ISSUER: ISSUER,
      TOKEN_AUDIENCE: AUDIENCE,
      ROUTES,
    },
    secrets: { SIGNING_KEYS: "[]", CREDENTIAL_CHECK_SECRET: TEST_SECRETS.CREDENTIAL_CHECK_SECRET },
  }));
});

afterAll(async () => {
  agent.destroy();
  await gateway?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** What the Worker answers: the request line as written, a token minted for the claims given. */
async function workerStatus(method: string, target: string, claims: Claims | null, headers: Record<string, string>) {
  const sent: Record<string, string> = { ...headers };
  if (claims !== null) {
    // Exactly the claims given (mintToken's own scope default left out; null: no such claim).
    const given = Object.fromEntries(
      Object.entries({ scope: undefined, ...claims }).map(([k, v]) => [k, v ?? undefined]),
    );
    sent.authorization = `Bearer ${await mintToken(gateway.key, { claims: given })}`;
  }
  const port = Number(new URL(gateway.url).port);
  return (await sendRaw({ port, target, method, headers: sent, agent })).status;
}

function explainArgs(method: string, target: string, claims: Claims | null, headers: Record<string, string>) {
  const args = ["explain", method, target, "--config", config];
  if (claims !== null) args.push("--claims", JSON.stringify(claims));
  for (const [name, value] of Object.entries(headers)) args.push("--header", `${name}: ${value}`);
  return args;
}

/** The command as a user runs it: node scripts/portcullis.mjs, a process of its own. */
function explain(method: string, target: string, claims: Claims | null, headers: Record<string, string>) {
  return runCli(explainArgs(method, target, claims, headers));
}

/**
 * The same command through its entry point (`main`, which scripts/portcullis.mjs calls) in
 * this process, its output handed in. A process per request cost about 1.5 s of CPU each to
 * load wrangler (32 of them: 32 s of the suite in CI, 70 s on a loaded machine) and told the
 * table nothing more; the tests after it run the command as a process.
 */
async function explainInProcess(
  method: string,
  target: string,
  claims: Claims | null,
  headers: Record<string, string>,
): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const status = await main(explainArgs(method, target, claims, headers), {
    out: (line) => out.push(`${line}\n`),
    err: (line) => err.push(`${line}\n`),
  });
  const [stdout, stderr] = [out.join(""), err.join("")];
  return { status, stdout, stderr, output: `${stdout}\n${stderr}` };
}

/** The status the command's answer line names ("forwarded" for a request that reaches the upstream). */
function answered(run: CliRun): string | undefined {
  return /^answer: (\d{3}|forwarded)/m.exec(run.stdout)?.[1];
}

describe("portcullis explain agrees with the Worker", () => {
  it(`on ${REQUESTS.length} requests`, async () => {
    const results = await mapBounded(REQUESTS, 4, async ([method, target, claims, headers, expected]) => {
      const [worker, cli] = await Promise.all([
        workerStatus(method, target, claims, headers),
        explainInProcess(method, target, claims, headers),
      ]);
      return { request: `${method} ${target} ${JSON.stringify(claims)}`, expected, worker, cli };
    });
    for (const { request, expected, worker, cli } of results) {
      expect([request, worker]).toEqual([request, expected]);
      expect(cli.status, cli.output).toBe(0);
      expect([request, answered(cli)], cli.stdout).toEqual([
        request,
        expected === 200 ? "forwarded" : String(expected),
      ]);
    }
  }, 180_000);

  it("explains each rule tried for each reading, and the deciding rule", async () => {
    const run = await explain("GET", "/ADMIN/users/", { scope: "read" }, {});
    expect(run.stdout).toContain("canonical path: /ADMIN/users/ (what the upstream would receive)");
    expect(run.stdout).toContain("GET /admin/users (in lower case, without trailing slashes):");
    expect(run.stdout).toContain("yes rule 2 (/admin/*: scopes admin): the path matches");
    expect(run.stdout).toContain("no  rule 1 (/public/*: public): the path is not /public or below it");
    expect(run.stdout).toContain("the route requires: scopes admin (the strictest of the readings)");
    expect(run.stdout).toContain(
      'WWW-Authenticate: Bearer realm="portcullis", error="insufficient_scope", scope="admin"',
    );
  });

  it("decodes a --token without verifying it, and says so", async () => {
    const token = await mintToken(gateway.key, { claims: { scope: "admin" } });
    const run = await runCli(["explain", "GET", "/admin/x", "--config", config, "--token", token]);
    expect(run.stdout).toContain("decoded, NOT verified");
    expect(answered(run)).toBe("forwarded");
    const expired = await mintToken(gateway.key, { claims: { scope: "admin" }, iatOffset: -3600 });
    const late = await runCli(["explain", "GET", "/admin/x", "--config", config, "--token", expired]);
    expect(answered(late)).toBe("401");
    expect(late.stdout).toContain("it has expired");
  });

  it("names the condition that failed, and a request-only one as access_denied without a challenge", async () => {
    const claims = { email: "a@example.com", org: { id: "initech" } };
    const staff = await explain("GET", "/staff/x", claims, {});
    expect(staff.stdout).toContain(
      'the route requires: any valid token; require all(email_domain in [example.com]; claim org.id any_of ["acme","globex"])',
    );
    expect(staff.stdout).toContain('the condition claim org.id any_of ["acme","globex"] does not hold');
    const office = await explain("GET", "/office/x", { scope: "read" }, {});
    expect(answered(office)).toBe("403");
    expect(office.stdout).toContain("(no CF-Connecting-IP given)");
    expect(office.stdout).not.toContain("WWW-Authenticate");
  });
});
