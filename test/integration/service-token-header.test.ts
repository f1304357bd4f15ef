/**
 * SERVICE_TOKEN_HEADER (docs/identities.md, "One header instead of an exchange"), through
 * the bundled Worker with the SERVICE_CLIENTS binding of wrangler.toml and a real upstream:
 * a service client sends `<client_id>:<secret>` in one header; the gateway exchanges it as
 * POST /auth/token would and judges the request as if it carried that token. The header
 * never reaches the upstream; refusals are 400 or 401 with the header's challenge; a
 * revoked client is refused at once, its cached token notwithstanding; nothing secret is
 * logged; with the setting off the header opens nothing.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Gateway, startGateway } from "../support/gateway";
import { TEST_SECRETS } from "../support/test-keys";
import { decodeClaims, mintToken } from "../support/tokens";
import type { ReceivedRequest } from "../support/upstream";

const HEADER = "Portcullis-Service-Token";
const ROUTES = JSON.stringify([
  { path: "/public/*", public: true },
  { path: "/reports/*", scopes: ["reports:read"] },
  { path: "/admin/*", scopes: ["admin"] },
]);
const OPERATOR = { authorization: `Bearer ${TEST_SECRETS.OPERATOR_TOKEN}`, "content-type": "application/json" };
const CLIENTS = "/auth/operator/service-clients";
const CHALLENGE = `${HEADER} realm="portcullis"`;

let gateway: Gateway;
/** Everything secret this file was given or saw forwarded, to look for in the logs at the end. */
const handedOut: string[] = [];

beforeAll(async () => {
  gateway = await startGateway({ vars: { ROUTES, SERVICE_TOKEN_HEADER: HEADER } });
});
afterAll(() => gateway?.close());

interface CreatedClient {
  client_id: string;
  client_secret: string;
}

async function createClient(on: Gateway, scopes: string[]): Promise<CreatedClient> {
  const body = JSON.stringify({ name: "header client", scopes, expires_in: 3600 });
  const response = await on.fetch(CLIENTS, { method: "POST", headers: OPERATOR, body });
  expect(response.status).toBe(201);
  const created = (await response.json()) as CreatedClient;
  handedOut.push(created.client_secret, `${created.client_id}:${created.client_secret}`);
  return created;
}

const headerValue = (client: CreatedClient, secret = client.client_secret) => `${client.client_id}:${secret}`;

/** A request with the header (and any other headers), on this gateway. */
function withHeader(path: string, value: string, headers: Record<string, string> = {}, on = gateway) {
  return on.fetch(path, { headers: { [HEADER]: value, ...headers } });
}

/** What the upstream received for the request whose path is `path`, last first. */
function received(on: Gateway, path: string): ReceivedRequest {
  const seen = on.upstream.proxied().findLast((request) => request.url === path);
  if (seen === undefined) throw new Error(`the upstream never saw ${path}`);
  return seen;
}

/** No spelling of the header in what the upstream received. */
function headerNames(request: ReceivedRequest): string[] {
  return request.rawHeaders.filter((_, index) => index % 2 === 0).map((name) => name.toLowerCase());
}

async function refusal(response: Response) {
  const body = (await response.json()) as Record<string, unknown>;
  return { status: response.status, error: body.error, challenge: response.headers.get("www-authenticate") };
}

const INVALID_CLIENT = { status: 401, error: "invalid_client", challenge: CHALLENGE };

describe("a service client's id and secret in the header", () => {
  it("opens the routes its scopes allow, as its token would, and the upstream never sees the header", async () => {
    const client = await createClient(gateway, ["reports:read"]);
    const response = await withHeader("/reports/daily?n=1", headerValue(client));
    expect(response.status).toBe(200);
    const seen = received(gateway, "/reports/daily?n=1");
    expect(seen.headers["x-auth-subject"]).toBe(`svc|${client.client_id}`);
    expect(seen.headers["x-auth-scopes"]).toBe("reports:read");
    expect(seen.headers["x-auth-session"]).toBeUndefined();
    expect(headerNames(seen)).not.toContain(HEADER.toLowerCase());
    // The token POST /auth/token would give: the gateway's own, for this client, with its full scopes.
    const token = String(seen.headers.authorization).replace(/^Bearer /, "");
    handedOut.push(token);
    expect(decodeClaims(token)).toMatchObject({
      sub: `svc|${client.client_id}`,
      client_id: client.client_id,
      scope: "reports:read",
      iss: "https://gateway.test",
    });
    expect(decodeClaims(token).sid).toBeUndefined();

    // A scope it does not hold: 403 as for its bearer token.
    const admin = await withHeader("/admin/stats", headerValue(client));
    expect(await refusal(admin)).toMatchObject({ status: 403, error: "insufficient_scope" });
    expect(gateway.upstream.proxied().some((request) => request.url === "/admin/stats")).toBe(false);

    // The token is kept: the next request goes on with the same one.
    expect((await withHeader("/reports/again", headerValue(client))).status).toBe(200);
    expect(received(gateway, "/reports/again").headers.authorization).toBe(`Bearer ${token}`);
  });

  it("is exchanged once for a burst of requests with a cold cache", async () => {
    const client = await createClient(gateway, ["reports:read"]);
    const answers = await Promise.all(
      Array.from({ length: 5 }, (_, index) => withHeader(`/reports/burst-${index}`, headerValue(client))),
    );
    expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 200, 200]);
    const tokens = new Set(
      answers.map((_, index) => received(gateway, `/reports/burst-${index}`).headers.authorization),
    );
    expect(tokens.size).toBe(1);
    handedOut.push(...[...tokens].map((value) => String(value).replace(/^Bearer /, "")));
  });

  it("is dropped on public routes too, under every spelling, and gives no identity there", async () => {
    const client = await createClient(gateway, ["reports:read"]);
    const response = await gateway.fetch("/public/page", {
      headers: { [HEADER]: headerValue(client), Portcullis_Service_Token: headerValue(client) },
    });
    expect(response.status).toBe(200);
    const seen = received(gateway, "/public/page");
    expect(headerNames(seen).filter((name) => name.replace(/[_.]/g, "-") === HEADER.toLowerCase())).toEqual([]);
    expect(seen.headers["x-auth-subject"]).toBeUndefined();
    expect(seen.headers.authorization).toBeUndefined();
  });

  it("is read from its exact name only: an underscore spelling is dropped, not read", async () => {
    const client = await createClient(gateway, ["reports:read"]);
    const response = await gateway.fetch("/reports/alias", {
      headers: { Portcullis_Service_Token: headerValue(client) },
    });
    expect(await refusal(response)).toMatchObject({ status: 401, challenge: 'Bearer realm="portcullis"' });
  });

  it("does not touch the endpoints under /auth/: the token endpoint still wants its own credentials", async () => {
    const client = await createClient(gateway, ["reports:read"]);
    const response = await gateway.fetch("/auth/token", {
      method: "POST",
      headers: { [HEADER]: headerValue(client), "content-type": "application/x-www-form-urlencoded" },
      body: "grant_type=client_credentials",
    });
    expect(await refusal(response)).toEqual({
      status: 401,
      error: "invalid_client",
      challenge: 'Basic realm="portcullis"',
    });
  });
});

describe("refusals", () => {
  let client: CreatedClient;
  beforeAll(async () => {
    client = await createClient(gateway, ["reports:read"]);
  });

  it("a wrong secret or an unknown client: 401 invalid_client, challenged with the header's name", async () => {
    const wrong = `pcs_${"A".repeat(43)}`;
    expect(await refusal(await withHeader("/reports/x", headerValue(client, wrong)))).toEqual(INVALID_CLIENT);
    expect(await refusal(await withHeader("/reports/x", `${"f".repeat(32)}:${client.client_secret}`))).toEqual(
      INVALID_CLIENT,
    );
  });

  it("a value that is not <client_id>:<secret>: 400 invalid_request", async () => {
    for (const value of [
      "nonsense",
      client.client_id,
      `${client.client_id}:`,
      `:${client.client_secret}`,
      `${client.client_id}:${client.client_secret}:x`,
      `${client.client_id.toUpperCase()}:${client.client_secret}`,
      `${client.client_id} : ${client.client_secret}`,
      `Basic ${btoa(headerValue(client))}`,
      `${client.client_id}:${client.client_secret.slice(0, -1)}`,
    ]) {
      const response = await withHeader("/reports/x", value);
      expect(response.status, value.slice(0, 12)).toBe(400);
      const body = (await response.json()) as Record<string, unknown>;
      expect(body.error).toBe("invalid_request");
      expect(JSON.stringify(body)).not.toContain(client.client_secret.slice(4, 20));
    }
    // Two of them arrive joined by ", ": not one value.
    const twice = await gateway.fetch("/reports/x", {
      headers: [
        [HEADER, headerValue(client)],
        [HEADER, headerValue(client)],
      ],
    });
    expect(twice.status).toBe(400);
  });

  it("the header with a bearer token, another Authorization or the access cookie: 400, ambiguous", async () => {
    const bearer = await mintToken(gateway.key, { claims: { scope: "reports:read" } });
    handedOut.push(bearer);
    const extras: Record<string, string>[] = [
      { authorization: `Bearer ${bearer}` },
      { authorization: "Basic dXNlcjpwYXNz" },
      { cookie: `__Host-portcullis-access=${bearer}` },
    ];
    for (const extra of extras) {
      const response = await withHeader("/reports/ambiguous", headerValue(client), extra);
      expect(await refusal(response), Object.keys(extra)[0]).toMatchObject({ status: 400, error: "invalid_request" });
    }
    expect(gateway.upstream.proxied().some((request) => request.url === "/reports/ambiguous")).toBe(false);
  });

  it("a revoked client: refused on the very next request, although its token was kept, and after", async () => {
    const revoked = await createClient(gateway, ["reports:read"]);
    expect((await withHeader("/reports/before", headerValue(revoked))).status).toBe(200);
    expect((await withHeader("/reports/before", headerValue(revoked))).status).toBe(200);

    const revoke = await gateway.fetch(`${CLIENTS}/${revoked.client_id}`, { method: "DELETE", headers: OPERATOR });
    expect(revoke.status).toBe(200);
    // The kept token is refused by the revocation of its subject, and dropped …
    expect(await refusal(await withHeader("/reports/after", headerValue(revoked)))).toEqual(INVALID_CLIENT);
    // … so the next request asks the object, which refuses the client itself.
    expect(await refusal(await withHeader("/reports/after", headerValue(revoked)))).toEqual(INVALID_CLIENT);
    expect(gateway.upstream.proxied().some((request) => request.url === "/reports/after")).toBe(false);
    const lines = await gateway.waitForLog(
      (line) => line.includes('"event":"client_auth_failed"') && line.includes(revoked.client_id),
      2,
    );
    expect(lines.some((line) => line.includes('"reason":"token refused: revoked by'))).toBe(true);
    expect(lines.some((line) => line.includes('"reason":"revoked"'))).toBe(true);
  });

  it("a secret rotated out: refused once the overlap has run out (a value never kept before)", async () => {
    const rotating = await createClient(gateway, ["reports:read"]);
    const rotate = await gateway.fetch(`${CLIENTS}/${rotating.client_id}/rotate`, {
      method: "POST",
      headers: OPERATOR,
      body: JSON.stringify({ overlap_seconds: 1 }),
    });
    expect(rotate.status).toBe(200);
    const rotated = (await rotate.json()) as { client_secret: string; previous_secret_expires_at: string };
    handedOut.push(rotated.client_secret, headerValue(rotating, rotated.client_secret));
    expect((await withHeader("/reports/rotated", headerValue(rotating, rotated.client_secret))).status).toBe(200);

    const overlapEnds = Date.parse(rotated.previous_secret_expires_at);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, overlapEnds - Date.now()) + 100));
    expect(await refusal(await withHeader("/reports/rotated", headerValue(rotating)))).toEqual(INVALID_CLIENT);
    expect((await withHeader("/reports/rotated", headerValue(rotating, rotated.client_secret))).status).toBe(200);
  });
});

describe("the logs", () => {
  it("never hold a secret, a header value, their hashes or a token", async () => {
    await gateway.flushLogs();
    const logs = gateway.logs.join("\n");
    expect(logs).toContain('"method":"service_token_header"');
    expect(logs).toContain('"event":"service_token_issued"');
    expect(logs).toContain('"event":"client_auth_failed"');
    const hashes = handedOut.flatMap((value) => {
      const digest = createHash("sha256").update(value).digest();
      return [digest.toString("base64url"), digest.toString("base64"), digest.toString("hex")];
    });
    for (const value of [...handedOut, ...hashes]) expect(logs.includes(value), value.slice(0, 8)).toBe(false);
    // Nor any part of a secret long enough to matter.
    for (const value of handedOut.filter((item) => item.startsWith("pcs_"))) {
      expect(logs.includes(value.slice(4, 24)), value.slice(0, 8)).toBe(false);
    }
  });
});

describe("with the setting off", () => {
  it("the header opens nothing, and Portcullis-Service-Token still never reaches the upstream", async () => {
    const off = await startGateway({ vars: { ROUTES } });
    try {
      const client = await createClient(off, ["reports:read"]);
      const refused = await withHeader("/reports/x", headerValue(client), {}, off);
      expect(await refusal(refused)).toMatchObject({ status: 401, challenge: 'Bearer realm="portcullis"' });
      expect(
        (await withHeader("/public/off", headerValue(client), { "x-machine-token": "not ours" }, off)).status,
      ).toBe(200);
      const seen = received(off, "/public/off");
      expect(headerNames(seen)).not.toContain(HEADER.toLowerCase());
      // A name nobody configured is an ordinary header of the client's.
      expect(seen.headers["x-machine-token"]).toBe("not ours");
      await off.flushLogs();
      const logs = off.logs.join("\n");
      expect(logs.includes(client.client_secret)).toBe(false);
    } finally {
      await off.close();
    }
  });
});

describe("wrangler.toml's rate limits", () => {
  it("are the token endpoint's: one allowance per client, and exchanges per address", async () => {
    const limited = await startGateway({
      rateLimits: "wrangler",
      vars: { ROUTES, SERVICE_TOKEN_HEADER: HEADER },
    });
    try {
      const client = await createClient(limited, ["reports:read"]);
      const basic = `Basic ${Buffer.from(headerValue(client)).toString("base64")}`;
      for (let attempt = 0; attempt < 10; attempt += 1) {
        const exchange = await limited.fetch("/auth/token", {
          method: "POST",
          headers: { authorization: basic, "content-type": "application/x-www-form-urlencoded" },
          body: "grant_type=client_credentials",
        });
        expect(exchange.status).toBe(200);
      }
      // The header's exchange counts against the same allowance (this value was never kept).
      const limitedAnswer = await withHeader("/reports/x", headerValue(client), {}, limited);
      expect(limitedAnswer.status).toBe(429);
      expect(limitedAnswer.headers.get("retry-after")).toBe("60");
    } finally {
      await limited.close();
    }
  });
});
