/**
 * Service tokens for machines (docs/identities.md), through the bundled Worker with the
 * SERVICE_CLIENTS binding of wrangler.toml: the operator creates a client, the machine
 * exchanges its secret at POST /auth/token (client_credentials, RFC 6749 §4.4) for an
 * access token it uses on the routes its scopes allow; rotation with an overlap (time is
 * the overlap's length: a second), revocation that refuses the tokens already given,
 * expiry, and every way a client can get it wrong answered 4xx without a secret in a log.
 */
import { createHash, randomUUID } from "node:crypto";
import path from "node:path";
import { exportJWK, generateKeyPair, type JWK, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { ROOT } from "../support/build-worker";
import { type Gateway, startGateway } from "../support/gateway";
import { TEST_SECRETS } from "../support/test-keys";
import { decodeClaims, mintToken } from "../support/tokens";

const production = unstable_getMiniflareWorkerOptions(path.join(ROOT, "wrangler.toml"), "production").workerOptions;

let gateway: Gateway;
/** Everything secret this file was given, to look for in the logs at the end. */
const handedOut: string[] = [];

beforeAll(async () => {
  gateway = await startGateway({
    vars: {
      // No tolerance, so a token past its `exp` is refused at once.
      CLOCK_TOLERANCE_SECONDS: "0",
      ROUTES: JSON.stringify([
        { path: "/public/*", public: true },
        { path: "/reports/*", scopes: ["reports:read"] },
        { path: "/admin/*", scopes: ["admin"] },
      ]),
    },
  });
});
afterAll(() => gateway?.close());

const OPERATOR = { authorization: `Bearer ${TEST_SECRETS.OPERATOR_TOKEN}`, "content-type": "application/json" };
const CLIENTS = "/auth/operator/service-clients";

interface CreatedClient {
  client_id: string;
  client_secret: string;
  expires_at: string;
  name: string;
  scopes: string[];
}

async function createClient(body: Record<string, unknown>): Promise<CreatedClient> {
  const response = await gateway.fetch(CLIENTS, { method: "POST", headers: OPERATOR, body: JSON.stringify(body) });
  expect(response.status).toBe(201);
  const created = (await response.json()) as CreatedClient;
  handedOut.push(created.client_secret);
  return created;
}

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;
const formHeaders = { "content-type": "application/x-www-form-urlencoded" };

/** POST /auth/token with a form, and optionally an Authorization header. */
function exchange(fields: Record<string, string>, authorization?: string): Promise<Response> {
  return gateway.fetch("/auth/token", {
    method: "POST",
    headers: authorization === undefined ? formHeaders : { ...formHeaders, authorization },
    body: new URLSearchParams(fields).toString(),
  });
}

/** A token for this client by Basic; fails the test if it is not given one. */
async function tokenFor(client: { client_id: string }, secret: string, scope?: string): Promise<string> {
  const response = await exchange(
    { grant_type: "client_credentials", ...(scope ? { scope } : {}) },
    basic(client.client_id, secret),
  );
  expect(response.status).toBe(200);
  const token = ((await response.json()) as { access_token: string }).access_token;
  handedOut.push(token);
  return token;
}

const call = async (path: string, token: string) =>
  (await gateway.fetch(path, { headers: { authorization: `Bearer ${token}` } })).status;

async function listed(): Promise<Record<string, unknown>[]> {
  const response = await gateway.fetch(CLIENTS, { headers: OPERATOR });
  expect(response.status).toBe(200);
  expect(response.headers.get("cache-control")).toBe("no-store");
  return ((await response.json()) as { clients: Record<string, unknown>[] }).clients;
}

/** The error of a refused exchange: status, RFC 6749 `error`, and the challenge. */
async function refusal(response: Response) {
  const body = (await response.json()) as { error?: string };
  return { status: response.status, error: body.error, challenge: response.headers.get("www-authenticate") };
}

const INVALID_CLIENT = { status: 401, error: "invalid_client", challenge: 'Basic realm="portcullis"' };

describe("the lifecycle of a service client", () => {
  it("is created with a secret shown once, exchanges it for a token that opens only its scopes' routes, and is listed with its last use", async () => {
    const client = await createClient({
      name: "nightly reports",
      scopes: ["reports:read", "reports:write"],
      expires_in: 3600,
    });
    expect(client.client_id).toMatch(/^[0-9a-f]{32}$/);
    expect(client.client_secret).toMatch(/^pcs_[A-Za-z0-9_-]{43}$/);
    expect(Date.parse(client.expires_at) - Date.now()).toBeGreaterThan(3590_000);

    const response = await exchange(
      { grant_type: "client_credentials" },
      basic(client.client_id, client.client_secret),
    );
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    const answer = (await response.json()) as Record<string, unknown>;
    expect(answer).toMatchObject({ token_type: "Bearer", expires_in: 900, scope: "reports:read reports:write" });
    const token = String(answer.access_token);
    handedOut.push(token);
    const claims = decodeClaims(token);
    expect(claims).toMatchObject({ sub: `svc|${client.client_id}`, client_id: client.client_id });
    expect(claims.sid).toBeUndefined();
    expect(claims.exp).toBe(Number(claims.iat) + 900);

    expect(await call("/reports/daily", token)).toBe(200);
    const seen = gateway.upstream.proxied().at(-1);
    expect(seen?.headers["x-auth-subject"]).toBe(`svc|${client.client_id}`);
    expect(seen?.headers["x-auth-scopes"]).toBe("reports:read reports:write");
    expect(seen?.headers["x-auth-session"]).toBeUndefined();
    expect(await call("/admin/stats", token)).toBe(403);

    // client_secret_post, narrowed to one scope.
    const posted = await exchange({
      grant_type: "client_credentials",
      client_id: client.client_id,
      client_secret: client.client_secret,
      scope: "reports:read",
    });
    expect(posted.status).toBe(200);
    const narrowed = (await posted.json()) as { access_token: string; scope: string };
    handedOut.push(narrowed.access_token);
    expect(narrowed.scope).toBe("reports:read");
    expect(decodeClaims(narrowed.access_token).scope).toBe("reports:read");

    const entry = (await listed()).find((item) => item.client_id === client.client_id);
    expect(entry).toMatchObject({
      auth_method: "client_secret",
      name: "nightly reports",
      scopes: ["reports:read", "reports:write"],
      rotated_at: null,
    });
    expect(Date.now() - Date.parse(String(entry?.last_used_at))).toBeLessThan(10_000);
    expect(Object.keys(entry ?? {}).sort()).toEqual([
      "auth_method",
      "client_id",
      "created_at",
      "expires_at",
      "last_used_at",
      "name",
      "previous_secret_expires_at",
      "rotated_at",
      "scopes",
    ]);
  });

  it.concurrent("rotates with an overlap: both secrets work during it, the old one is refused after it, also replayed later", async () => {
    const client = await createClient({ name: "deployer", scopes: ["reports:read"], expires_in: 3600 });
    const rotate = await gateway.fetch(`${CLIENTS}/${client.client_id}/rotate`, {
      method: "POST",
      headers: OPERATOR,
      body: JSON.stringify({ overlap_seconds: 1 }),
    });
    expect(rotate.status).toBe(200);
    const rotated = (await rotate.json()) as { client_secret: string; previous_secret_expires_at: string };
    handedOut.push(rotated.client_secret);
    expect(rotated.client_secret).not.toBe(client.client_secret);
    const overlapEnds = Date.parse(rotated.previous_secret_expires_at);

    expect(await call("/reports/x", await tokenFor(client, client.client_secret))).toBe(200);
    expect(await call("/reports/x", await tokenFor(client, rotated.client_secret))).toBe(200);
    const entry = (await listed()).find((item) => item.client_id === client.client_id);
    expect(entry?.previous_secret_expires_at).toBe(rotated.previous_secret_expires_at);

    await new Promise((resolve) => setTimeout(resolve, Math.max(0, overlapEnds - Date.now()) + 100));
    const replayed = await exchange(
      { grant_type: "client_credentials" },
      basic(client.client_id, client.client_secret),
    );
    expect(await refusal(replayed)).toEqual(INVALID_CLIENT);
    const posted = await exchange({
      grant_type: "client_credentials",
      client_id: client.client_id,
      client_secret: client.client_secret,
    });
    expect(await refusal(posted)).toEqual(INVALID_CLIENT);
    expect(await call("/reports/x", await tokenFor(client, rotated.client_secret))).toBe(200);

    // A rotation without overlap: the secret it replaces is refused at once.
    const again = await gateway.fetch(`${CLIENTS}/${client.client_id}/rotate`, {
      method: "POST",
      headers: OPERATOR,
      body: JSON.stringify({ overlap_seconds: 0 }),
    });
    const third = (await again.json()) as { client_secret: string; previous_secret_expires_at: null };
    handedOut.push(third.client_secret);
    expect(third.previous_secret_expires_at).toBeNull();
    const old = await exchange({ grant_type: "client_credentials" }, basic(client.client_id, rotated.client_secret));
    expect(await refusal(old)).toEqual(INVALID_CLIENT);
    expect(await call("/reports/x", await tokenFor(client, third.client_secret))).toBe(200);
  });

  it.concurrent("expires: its tokens never outlive it, and after it its secret is refused", async () => {
    const client = await createClient({ name: "short-lived", scopes: ["reports:read"], expires_in: 2 });
    const expiresAt = Date.parse(client.expires_at);
    const token = await tokenFor(client, client.client_secret);
    expect(Number(decodeClaims(token).exp) * 1000).toBeLessThanOrEqual(expiresAt);
    expect(await call("/reports/x", token)).toBe(200);

    await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt - Date.now()) + 100));
    expect(await call("/reports/x", token)).toBe(401);
    const late = await exchange({ grant_type: "client_credentials" }, basic(client.client_id, client.client_secret));
    expect(await refusal(late)).toEqual(INVALID_CLIENT);
    const rotate = await gateway.fetch(`${CLIENTS}/${client.client_id}/rotate`, {
      method: "POST",
      headers: OPERATOR,
      body: JSON.stringify({ overlap_seconds: 0 }),
    });
    expect(rotate.status).toBe(404);
  });

  it("is revoked: a token it was given is refused right after, its secret too, and it leaves the list", async () => {
    const client = await createClient({ name: "retired job", scopes: ["reports:read"], expires_in: 3600 });
    const token = await tokenFor(client, client.client_secret);
    expect(await call("/reports/x", token)).toBe(200);

    const revoke = await gateway.fetch(`${CLIENTS}/${client.client_id}`, { method: "DELETE", headers: OPERATOR });
    expect(revoke.status).toBe(200);
    expect(await revoke.json()).toEqual({ revoked: "service_client", client_id: client.client_id });

    expect(await call("/reports/x", token)).toBe(401);
    const after = await exchange({ grant_type: "client_credentials" }, basic(client.client_id, client.client_secret));
    expect(await refusal(after)).toEqual(INVALID_CLIENT);
    expect((await listed()).map((item) => item.client_id)).not.toContain(client.client_id);
    // Revoking again is answered alike (and records the revocation again); an unknown client is not found.
    expect(
      (await gateway.fetch(`${CLIENTS}/${client.client_id}`, { method: "DELETE", headers: OPERATOR })).status,
    ).toBe(200);
    expect((await gateway.fetch(`${CLIENTS}/${"0".repeat(32)}`, { method: "DELETE", headers: OPERATOR })).status).toBe(
      404,
    );
  });
});

describe("private_key_jwt clients (RFC 7523)", () => {
  const ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
  const newKey = async (alg: "ES256" | "EdDSA") => {
    const { privateKey, publicKey } = await generateKeyPair(alg);
    return { alg, privateKey, publicJwk: (await exportJWK(publicKey)) as JWK };
  };
  type Key = Awaited<ReturnType<typeof newKey>>;
  const assertionFor = (
    clientId: string,
    key: Key,
    claims: { aud?: string; exp?: number; jti?: string; iss?: string } = {},
  ) =>
    new SignJWT({ jti: claims.jti ?? randomUUID() })
      .setProtectedHeader({ alg: key.alg })
      .setIssuer(claims.iss ?? clientId)
      .setSubject(clientId)
      .setAudience(claims.aud ?? `${gateway.url}/auth/token`)
      .setIssuedAt()
      .setExpirationTime(claims.exp ?? Math.floor(Date.now() / 1000) + 60)
      .sign(key.privateKey);
  const exchangeWith = (assertion: string, extra: Record<string, string> = {}) =>
    exchange({
      grant_type: "client_credentials",
      client_assertion_type: ASSERTION_TYPE,
      client_assertion: assertion,
      ...extra,
    });

  it("authenticates with a signed assertion, once per jti; refuses another audience, a far exp, another key, a secret", async () => {
    const key = await newKey("ES256");
    const response = await gateway.fetch(CLIENTS, {
      method: "POST",
      headers: OPERATOR,
      body: JSON.stringify({ name: "signer", scopes: ["reports:read"], expires_in: 3600, jwk: key.publicJwk }),
    });
    expect(response.status).toBe(201);
    const client = (await response.json()) as Record<string, unknown>;
    expect(client.client_secret).toBeUndefined();
    expect(client.auth_method).toBe("private_key_jwt");
    const id = String(client.client_id);

    const assertion = await assertionFor(id, key);
    const granted = await exchangeWith(assertion, { client_id: id });
    expect(granted.status).toBe(200);
    const { access_token: token } = (await granted.json()) as { access_token: string };
    handedOut.push(token);
    expect(decodeClaims(token)).toMatchObject({ sub: `svc|${id}`, client_id: id, scope: "reports:read" });
    expect(await call("/reports/x", token)).toBe(200);

    expect(await refusal(await exchangeWith(assertion))).toEqual(INVALID_CLIENT);
    const elsewhere = await assertionFor(id, key, { aud: "https://other.example/auth/token" });
    expect(await refusal(await exchangeWith(elsewhere))).toEqual(INVALID_CLIENT);
    const farAhead = await assertionFor(id, key, { exp: Math.floor(Date.now() / 1000) + 600 });
    expect(await refusal(await exchangeWith(farAhead))).toEqual(INVALID_CLIENT);
    const expired = await assertionFor(id, key, { exp: Math.floor(Date.now() / 1000) - 60 });
    expect(await refusal(await exchangeWith(expired))).toEqual(INVALID_CLIENT);
    const stranger = await newKey("ES256");
    expect(await refusal(await exchangeWith(await assertionFor(id, stranger)))).toEqual(INVALID_CLIENT);
    expect(await refusal(await exchangeWith(await assertionFor(id, key, { iss: "f".repeat(32) })))).toEqual(
      INVALID_CLIENT,
    );
    expect(await refusal(await exchangeWith(await assertionFor(id, key), { client_id: "f".repeat(32) }))).toEqual(
      INVALID_CLIENT,
    );
    const twoWays = await exchangeWith(await assertionFor(id, key), { client_secret: `pcs_${"A".repeat(43)}` });
    expect(await refusal(twoWays)).toMatchObject({ status: 400, error: "invalid_request" });
    const wrongType = await exchange({
      grant_type: "client_credentials",
      client_assertion_type: "saml",
      client_assertion: assertion,
    });
    expect(await refusal(wrongType)).toEqual(INVALID_CLIENT);
    // A key client has no secret: Basic with anything is refused.
    expect(
      await refusal(await exchange({ grant_type: "client_credentials" }, basic(id, `pcs_${"A".repeat(43)}`))),
    ).toEqual(INVALID_CLIENT);
    const entry = (await listed()).find((item) => item.client_id === id);
    expect(entry?.auth_method).toBe("private_key_jwt");
  });

  it("rotates to a new key with an overlap: both keys sign during it; a secret client takes no key", async () => {
    const first = await newKey("ES256");
    const create = await gateway.fetch(CLIENTS, {
      method: "POST",
      headers: OPERATOR,
      body: JSON.stringify({ name: "rotating signer", scopes: [], expires_in: 3600, jwk: first.publicJwk }),
    });
    const id = String(((await create.json()) as Record<string, unknown>).client_id);
    const second = await newKey("EdDSA");
    const rotate = (body: unknown, clientId = id) =>
      gateway.fetch(`${CLIENTS}/${clientId}/rotate`, { method: "POST", headers: OPERATOR, body: JSON.stringify(body) });
    expect((await rotate({ overlap_seconds: 60 })).status).toBe(400);
    const rotated = await rotate({ overlap_seconds: 60, jwk: second.publicJwk });
    expect(rotated.status).toBe(200);
    expect(((await rotated.json()) as Record<string, unknown>).client_secret).toBeUndefined();
    expect((await exchangeWith(await assertionFor(id, first))).status).toBe(200);
    expect((await exchangeWith(await assertionFor(id, second))).status).toBe(200);
    expect((await rotate({ overlap_seconds: 0, jwk: (await newKey("ES256")).publicJwk })).status).toBe(200);
    expect(await refusal(await exchangeWith(await assertionFor(id, second)))).toEqual(INVALID_CLIENT);

    const secretClient = await createClient({ name: "secret holder", scopes: [], expires_in: 60 });
    expect((await rotate({ overlap_seconds: 0, jwk: second.publicJwk }, secretClient.client_id)).status).toBe(400);
    const offCurve = { kty: "EC", crv: "P-256", x: "A".repeat(43), y: "A".repeat(43) };
    const notAKey = { name: "x", scopes: [], expires_in: 60, jwk: offCurve };
    const refused = await gateway.fetch(CLIENTS, { method: "POST", headers: OPERATOR, body: JSON.stringify(notAKey) });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { detail?: string }).detail).toBe('"jwk" is not a usable public key');
    const withPrivate = { name: "x", scopes: [], expires_in: 60, jwk: { ...second.publicJwk, d: "AAAA" } };
    expect(
      (await gateway.fetch(CLIENTS, { method: "POST", headers: OPERATOR, body: JSON.stringify(withPrivate) })).status,
    ).toBe(400);
  });
});

describe("a token of the gateway's own without a session", () => {
  it("is a service client's only: without sid and without the svc| subject it is refused", async () => {
    const user = await mintToken(gateway.key, { claims: { sid: undefined, sub: "user-alice", scope: "reports:read" } });
    expect(await call("/reports/x", user)).toBe(401);
    const machine = await mintToken(gateway.key, {
      claims: { sid: undefined, sub: "svc|0123", scope: "reports:read" },
    });
    expect(await call("/reports/x", machine)).toBe(200);
  });
});

describe("a leaked secret", () => {
  it("rotated without overlap and its subject revoked: the tokens issued before are refused, those after are not", async () => {
    const client = await createClient({ name: "leaky", scopes: ["reports:read"], expires_in: 3600 });
    const before = await tokenFor(client, client.client_secret);
    const rotate = await gateway.fetch(`${CLIENTS}/${client.client_id}/rotate`, {
      method: "POST",
      headers: OPERATOR,
      body: JSON.stringify({ overlap_seconds: 0 }),
    });
    const { client_secret: fresh } = (await rotate.json()) as { client_secret: string };
    handedOut.push(fresh);
    const revoked = await gateway.fetch("/auth/operator/revoke-subject", {
      method: "POST",
      headers: OPERATOR,
      body: JSON.stringify({ sub: `svc|${client.client_id}` }),
    });
    expect(revoked.status).toBe(200);
    // auth_time is when the object checked the secret: after the revocation, for this one.
    const after = await tokenFor(client, fresh);
    expect(await call("/reports/x", before)).toBe(401);
    expect(await call("/reports/x", after)).toBe(200);
    expect((await listed()).map((item) => item.client_id)).toContain(client.client_id);
  });
});

describe("what a client can get wrong at POST /auth/token", () => {
  let client: CreatedClient;
  beforeAll(async () => {
    client = await createClient({ name: "careless", scopes: ["reports:read"], expires_in: 3600 });
  });

  it("a wrong secret, an unknown client, no credentials, bad Basic: 401 invalid_client with a Basic challenge", async () => {
    const grant = { grant_type: "client_credentials" };
    const wrong = `pcs_${"A".repeat(43)}`;
    expect(await refusal(await exchange(grant, basic(client.client_id, wrong)))).toEqual(INVALID_CLIENT);
    expect(await refusal(await exchange(grant, basic("f".repeat(32), client.client_secret)))).toEqual(INVALID_CLIENT);
    expect(await refusal(await exchange(grant, basic("not-an-id", "x")))).toEqual(INVALID_CLIENT);
    expect(await refusal(await exchange(grant))).toEqual(INVALID_CLIENT);
    expect(await refusal(await exchange({ ...grant, client_id: client.client_id }))).toEqual(INVALID_CLIENT);
    for (const header of ["Basic !!!not-base64!!!", "Basic", "Basic =", `Basic ${btoa("no-colon")}`, "Bearer abc"]) {
      expect(await refusal(await exchange(grant, header)), header).toEqual(INVALID_CLIENT);
    }
    expect(await refusal(await exchange(grant, `Basic ${btoa(`${client.client_id}:%zz`)}`))).toEqual(INVALID_CLIENT);
    const assertion = { ...grant, client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" };
    expect(await refusal(await exchange({ ...assertion, client_assertion: "a.b.c" }))).toEqual(INVALID_CLIENT);
  });

  it("a scope it does not hold: 400 invalid_scope, and no token", async () => {
    const grant = { grant_type: "client_credentials" };
    for (const scope of ["admin", "reports:read admin", 'reports"read']) {
      const answer = await refusal(await exchange({ ...grant, scope }, basic(client.client_id, client.client_secret)));
      expect(answer, scope).toEqual({ status: 400, error: "invalid_scope", challenge: null });
    }
  });

  it("another grant, none, two ways of authenticating, a JSON body, GET: 4xx as RFC 6749 §5.2 says", async () => {
    const auth = basic(client.client_id, client.client_secret);
    expect(await refusal(await exchange({ grant_type: "password" }, auth))).toMatchObject({
      status: 400,
      error: "unsupported_grant_type",
    });
    expect(await refusal(await exchange({}, auth))).toMatchObject({ status: 400, error: "invalid_request" });
    const both = { grant_type: "client_credentials", client_id: client.client_id, client_secret: client.client_secret };
    expect(await refusal(await exchange(both, auth))).toMatchObject({ status: 400, error: "invalid_request" });
    const repeated = await gateway.fetch("/auth/token", {
      method: "POST",
      headers: { ...formHeaders, authorization: auth },
      body: "grant_type=client_credentials&grant_type=client_credentials",
    });
    expect(repeated.status).toBe(400);
    const json = await gateway.fetch("/auth/token", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: auth },
      body: JSON.stringify({ grant_type: "client_credentials" }),
    });
    expect(json.status).toBe(415);
    expect((await gateway.fetch("/auth/token")).status).toBe(405);
  });
});

describe("the operator's endpoints", () => {
  it("refuse without the operator token, and refuse bad bodies and ids with 4xx, storing nothing", async () => {
    const before = (await listed()).length;
    const body = JSON.stringify({ name: "x", scopes: [], expires_in: 60 });
    expect(
      (await gateway.fetch(CLIENTS, { method: "POST", headers: { "content-type": "application/json" }, body })).status,
    ).toBe(401);
    expect((await gateway.fetch(CLIENTS)).status).toBe(401);
    for (const bad of [
      {},
      { name: "x", scopes: "read", expires_in: 60 },
      { name: "x", scopes: ["a b"], expires_in: 60 },
      { name: "x", scopes: [], expires_in: 0 },
      { name: "x", scopes: [], expires_in: 1e9 },
      { name: "x", scopes: [], expires_in: 1.5 },
      { name: "", scopes: [], expires_in: 60 },
      { name: "x\u0000y", scopes: [], expires_in: 60 },
      { name: "x", scopes: [], expires_in: 60, secret: "mine" },
      [],
    ]) {
      const response = await gateway.fetch(CLIENTS, { method: "POST", headers: OPERATOR, body: JSON.stringify(bad) });
      expect(response.status, JSON.stringify(bad)).toBe(400);
    }
    expect((await gateway.fetch(CLIENTS, { method: "POST", headers: OPERATOR, body: "{" })).status).toBe(400);
    const asForm = { ...OPERATOR, "content-type": "application/x-www-form-urlencoded" };
    expect((await gateway.fetch(CLIENTS, { method: "POST", headers: asForm, body: "name=x" })).status).toBe(415);
    const rotate = (id: string, overlap: unknown) =>
      gateway.fetch(`${CLIENTS}/${id}/rotate`, {
        method: "POST",
        headers: OPERATOR,
        body: JSON.stringify({ overlap_seconds: overlap }),
      });
    expect((await rotate("f".repeat(32), 10)).status).toBe(404);
    expect((await rotate("not-an-id", 10)).status).toBe(404);
    const created = await createClient({ name: "to rotate", scopes: [], expires_in: 60 });
    expect((await rotate(created.client_id, -1)).status).toBe(400);
    expect((await rotate(created.client_id, "10")).status).toBe(400);
    expect((await gateway.fetch(`${CLIENTS}/${created.client_id}`, { method: "POST", headers: OPERATOR })).status).toBe(
      405,
    );
    expect((await listed()).length).toBe(before + 1);
  });
});

describe("the logs", () => {
  it("never hold a secret, its hash or a token handed out", async () => {
    await gateway.flushLogs();
    const logs = gateway.logs.join("\n");
    expect(logs).toContain('"event":"service_token_issued"');
    expect(logs).toContain('"event":"client_auth_failed"');
    const hashes = handedOut.map((secret) => createHash("sha256").update(secret).digest("base64url"));
    for (const value of [...handedOut, ...hashes]) expect(logs.includes(value), value.slice(0, 8)).toBe(false);
  });
});

describe("without the SERVICE_CLIENTS binding", () => {
  it("service tokens are off: the endpoints answer 404", async () => {
    const durableObjects = Object.fromEntries(
      Object.entries(production.durableObjects ?? {}).filter(([name]) => name !== "SERVICE_CLIENTS"),
    );
    const off = await startGateway({ workerOptions: { durableObjects } });
    try {
      const token = await off.fetch("/auth/token", {
        method: "POST",
        headers: formHeaders,
        body: "grant_type=client_credentials",
      });
      expect(token.status).toBe(404);
      expect((await off.fetch(CLIENTS, { headers: OPERATOR })).status).toBe(404);
    } finally {
      await off.close();
    }
  });
});

describe("wrangler.toml's rate limits", () => {
  it("limit exchanges per client once it authenticated: 429 with Retry-After after ten a minute", async () => {
    const limited = await startGateway({ rateLimits: "wrangler" });
    try {
      const create = await limited.fetch(CLIENTS, {
        method: "POST",
        headers: OPERATOR,
        body: JSON.stringify({ name: "busy", scopes: [], expires_in: 600 }),
      });
      const client = (await create.json()) as CreatedClient;
      handedOut.push(client.client_secret);
      const exchangeAt = (authorization: string) =>
        limited.fetch("/auth/token", {
          method: "POST",
          headers: { ...formHeaders, authorization },
          body: "grant_type=client_credentials",
        });
      // Wrong secrets are not counted against the client: nobody can use up its allowance.
      for (let attempt = 0; attempt < 12; attempt += 1) {
        expect((await exchangeAt(basic(client.client_id, `pcs_${"B".repeat(43)}`))).status).toBe(401);
      }
      for (let attempt = 0; attempt < 10; attempt += 1) {
        expect((await exchangeAt(basic(client.client_id, client.client_secret))).status).toBe(200);
      }
      const last = await exchangeAt(basic(client.client_id, client.client_secret));
      expect(last.status).toBe(429);
      expect(last.headers.get("retry-after")).toBe("60");
    } finally {
      await limited.close();
    }
  });
});
