/**
 * DPoP (RFC 9449) attacks against the bundled Worker, held to the wire contract
 * (docs/dpop.md): every proof or request in the corpus is refused with the status, `error`
 * and `WWW-Authenticate` the contract names, and nothing changed: the upstream saw no
 * request, a refused login left no session, and a refresh attack left the session as the
 * contract says (ended where it counts as refresh-token reuse, untouched where the proof
 * itself was bad). The positives at the top show the same gateway admitting well-made
 * proofs, so the refusals cannot pass vacuously.
 */
import { createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  accessTokenHash,
  challengeOf,
  type DpopKey,
  makeDpopKey,
  makeSymmetricKey,
  type ProofOptions,
  proofClaims,
  signProof,
} from "../support/dpop";
import { type Gateway, startGateway } from "../support/gateway";
import { REFRESH_COOKIE, refreshCookieHeader, setCookie } from "../support/session-helpers";
import { decodeClaims, mintToken } from "../support/tokens";
import { TEST_USERS } from "../support/upstream";

const ROUTES = JSON.stringify([
  { path: "/health", public: true },
  { path: "/bound/*", dpop: "required" },
  { path: "/strict/*", revocation: "strict" },
]);
/** A browser origin the nonce gateway allows (CORS). */
const APP = "https://app.example.test";
/** The algorithms every gateway challenge must offer (the contract's allow-list includes these). */
const OFFERED_ALGS = ["ES256", "EdDSA", "RS256", "PS256"];
/** How long a revocation may take to reach the edge (published to KV; bounded wait, not a timing assertion). */
const REVOCATION_BOUND_MS = 5_000;

let gateway: Gateway;
/** The client's key: tokens in the corpus are bound to it. */
let key: DpopKey;
/** An attacker's key. */
let other: DpopKey;

beforeAll(async () => {
  [gateway, key, other] = await Promise.all([
    startGateway({ vars: { ROUTES } }),
    makeDpopKey("ES256"),
    makeDpopKey("ES256"),
  ]);
});
afterAll(() => gateway?.close());

const now = () => Math.floor(Date.now() / 1000);
const htuOf = (path: string, base = gateway.url) => `${base}${path}`;

/** An access token of the gateway's bound to `jkt` (a session the gateway never saw, for resource checks). */
function boundToken(jkt: string, claims: Record<string, unknown> = {}): Promise<string> {
  return mintToken(gateway.key, { claims: { cnf: { jkt }, ...claims } as never });
}

/** A well-made proof for a GET of `path` with `token`, by `by` (default the client's key). */
function proofFor(path: string, token: string | undefined, options: Partial<ProofOptions> = {}, by = key) {
  return signProof(by, {
    htm: "GET",
    htu: htuOf(path),
    ...(token !== undefined ? { accessToken: token } : {}),
    ...options,
  });
}

function dpopHeaders(token: string, proof: string | undefined, extra: Record<string, string> = {}): HeadersInit {
  return { authorization: `DPoP ${token}`, ...(proof !== undefined ? { dpop: proof } : {}), ...extra };
}

interface SessionOfKey {
  readonly accessToken: string;
  readonly refreshToken: string;
  readonly claims: Record<string, unknown>;
  readonly body: Record<string, unknown>;
}

/** Logs in with a DPoP proof by `by`: a session bound to that key. */
async function dpopLogin(by: DpopKey, user: keyof typeof TEST_USERS = "alice"): Promise<SessionOfKey> {
  const response = await gateway.fetch("/auth/login", {
    method: "POST",
    headers: {
      "content-type": "application/json",
      dpop: await signProof(by, { htm: "POST", htu: htuOf("/auth/login") }),
    },
    body: JSON.stringify({ username: user, password: TEST_USERS[user]?.password }),
  });
  expect(response.status).toBe(200);
  const body = (await response.json()) as Record<string, unknown>;
  const refreshToken = setCookie(response, REFRESH_COOKIE)?.value ?? "";
  expect(refreshToken).not.toBe("");
  const accessToken = String(body.access_token);
  return { accessToken, refreshToken, claims: decodeClaims(accessToken), body };
}

/** An access token of the same bound session that expired a while ago, as if time had passed. */
function expiredBoundToken(session: SessionOfKey): Promise<string> {
  const { sub, sid, auth_time, auth_ms, scope, roles, cnf } = session.claims;
  return mintToken(gateway.key, {
    claims: { sub, sid, auth_time, auth_ms, scope, roles, cnf } as never,
    iatOffset: -3600,
    ttl: 900,
  });
}

/** POST /auth/refresh with the cookie and, if given, a proof. */
async function refresh(refreshToken: string, proof?: string): Promise<Response> {
  return gateway.fetch("/auth/refresh", {
    method: "POST",
    headers: { cookie: refreshCookieHeader(refreshToken), ...(proof !== undefined ? { dpop: proof } : {}) },
  });
}

const refreshProof = (by: DpopKey, options: Partial<ProofOptions> = {}) =>
  signProof(by, { htm: "POST", htu: htuOf("/auth/refresh"), ...options });

/**
 * A refusal of a resource request as the contract words it: 401, a `DPoP` challenge with one
 * of `errors` and the algorithms offered, a problem+json body naming the same error, and no
 * request at the upstream.
 */
async function expectResourceRefusal(
  send: () => Promise<Response>,
  errors: readonly string[],
): Promise<{ response: Response; body: Record<string, unknown> }> {
  const before = gateway.upstream.received.length;
  const response = await send();
  const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  const header = response.headers.get("www-authenticate");
  expect(response.status, `status (WWW-Authenticate: ${header}; body ${JSON.stringify(body)})`).toBe(401);
  const challenge = challengeOf(header, "DPoP");
  expect(challenge, `a DPoP challenge in ${header}`).toBeDefined();
  expect(errors, `error in ${header}`).toContain(challenge?.params.error);
  if (challenge?.params.error !== "use_dpop_nonce") {
    expect(challenge?.params.realm, `realm in ${header}`).toBe("portcullis");
    expect(challenge?.params.algs?.split(" "), `algs in ${header}`).toEqual(expect.arrayContaining(OFFERED_ALGS));
  }
  expect(response.headers.get("content-type")).toBe("application/problem+json");
  expect(body.error).toBe(challenge?.params.error);
  expect(gateway.upstream.received.length, "requests the upstream saw").toBe(before);
  return { response, body };
}

/** A refusal at a token endpoint: 400 `{"error": …}`, no session cookie, nothing forwarded. */
async function expectTokenEndpointRefusal(send: () => Promise<Response>, error: string): Promise<Response> {
  const before = gateway.upstream.proxied().length;
  const response = await send();
  const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  expect(response.status, `status (body ${JSON.stringify(body)})`).toBe(400);
  expect(body.error).toBe(error);
  expect(body).not.toHaveProperty("access_token");
  expect(setCookie(response, REFRESH_COOKIE)?.value ?? "").toBe("");
  expect(gateway.upstream.proxied().length).toBe(before);
  return response;
}

describe("what a DPoP client gets (the positives the refusals are measured against)", () => {
  it("a login with a proof answers token_type DPoP and a token bound to the proof's key", async () => {
    const session = await dpopLogin(key);
    expect(session.body.token_type).toBe("DPoP");
    expect(session.body.expires_in).toEqual(expect.any(Number));
    expect(session.claims.cnf).toEqual({ jkt: key.thumbprint });
  });

  it("forwards a bound token with a fresh proof, naming the key's thumbprint; a client's own X-Auth-Key-Thumbprint is dropped", async () => {
    const session = await dpopLogin(key);
    const proof = await proofFor("/api/items", session.accessToken);
    const response = await gateway.fetch("/api/items?page=2", {
      headers: dpopHeaders(session.accessToken, proof, {
        "x-auth-key-thumbprint": other.thumbprint,
        x_auth_key_thumbprint: other.thumbprint,
      }),
    });
    // The proof's htu carries no query: the query is not part of it (RFC 9449 §4.3).
    expect(response.status).toBe(200);
    const seen = gateway.upstream.proxied().at(-1);
    expect(seen?.url).toBe("/api/items?page=2");
    expect(seen?.headers["x-auth-key-thumbprint"]).toBe(key.thumbprint);
    expect(seen?.headers.authorization).toBe(`DPoP ${session.accessToken}`);
    expect(seen?.headers.dpop).toBe(proof);
    expect(seen?.headers["x-auth-subject"]).toBe("user-alice");
    expect(seen?.rawHeaders.filter((name) => /^x.auth.key.thumbprint$/i.test(name))).toHaveLength(1);
  });

  it("forwards a bearer token's request with no key thumbprint and no DPoP header, whatever the client sent", async () => {
    const token = await mintToken(gateway.key);
    const response = await gateway.fetch("/api/items", {
      headers: {
        authorization: `Bearer ${token}`,
        "x-auth-key-thumbprint": key.thumbprint,
        x_auth_key_thumbprint: key.thumbprint,
        dpop: await proofFor("/api/items", token),
      },
    });
    expect(response.status).toBe(200);
    const seen = gateway.upstream.proxied().at(-1);
    expect(seen?.headers.authorization).toBe(`Bearer ${token}`);
    expect(seen?.rawHeaders.filter((name) => /^x.auth.key.thumbprint$/i.test(name))).toEqual([]);
    // The gateway did not check that proof against this token: it does not vouch for it upstream.
    expect(seen?.headers.dpop).toBeUndefined();
  });

  it.each([
    ["EdDSA", {}],
    ["RS256", {}],
    ["PS256", {}],
  ] as const)("admits a proof by an %s key", async (alg, options) => {
    const client = await makeDpopKey(alg, options);
    const token = await boundToken(client.thumbprint);
    const response = await gateway.fetch("/api/items", {
      headers: dpopHeaders(token, await proofFor("/api/items", token, {}, client)),
    });
    expect(response.status).toBe(200);
    expect(gateway.upstream.proxied().at(-1)?.headers["x-auth-key-thumbprint"]).toBe(client.thumbprint);
  });

  it("takes htu as the canonical path: a request spelled /api/%69tems is proven for /api/items", async () => {
    const token = await boundToken(key.thumbprint);
    const response = await gateway.fetch("/api/%69tems", {
      headers: dpopHeaders(token, await proofFor("/api/items", token)),
    });
    expect(response.status).toBe(200);
    expect(gateway.upstream.proxied().at(-1)?.url).toBe("/api/items");
  });

  it("refreshes an expired bound token on the way with the proof of the request, answering Authorization: DPoP", async () => {
    const session = await dpopLogin(key);
    const expired = await expiredBoundToken(session);
    const response = await gateway.fetch("/api/items", {
      headers: dpopHeaders(expired, await proofFor("/api/items", expired), {
        cookie: refreshCookieHeader(session.refreshToken),
      }),
    });
    expect(response.status).toBe(200);
    const authorization = response.headers.get("authorization") ?? "";
    expect(authorization).toMatch(/^DPoP [A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    const fresh = authorization.slice("DPoP ".length);
    expect(decodeClaims(fresh)).toMatchObject({ sid: session.claims.sid, cnf: { jkt: key.thumbprint } });
    expect(setCookie(response, REFRESH_COOKIE)?.value).not.toBe(session.refreshToken);
    const seen = gateway.upstream.proxied().at(-1);
    expect(seen?.headers.authorization).toBe(`DPoP ${fresh}`);
    expect(seen?.headers["x-auth-key-thumbprint"]).toBe(key.thumbprint);
    // The client's proof was made for the expired token (its ath): it does not go with the new one.
    expect(seen?.headers.dpop).toBeUndefined();
  });

  it("rotates a bound session at /auth/refresh with a proof by its key: token_type DPoP, still bound", async () => {
    const session = await dpopLogin(key);
    const response = await refresh(session.refreshToken, await refreshProof(key));
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body.token_type).toBe("DPoP");
    expect(decodeClaims(String(body.access_token)).cnf).toEqual({ jkt: key.thumbprint });
  });

  it("on a dpop = required route, refuses a bearer token with a DPoP challenge and admits a DPoP-bound one", async () => {
    const bearer = await mintToken(gateway.key);
    await expectResourceRefusal(
      () => gateway.fetch("/bound/x", { headers: { authorization: `Bearer ${bearer}` } }),
      ["invalid_token"],
    );
    const token = await boundToken(key.thumbprint);
    const response = await gateway.fetch("/bound/x", {
      headers: dpopHeaders(token, await proofFor("/bound/x", token)),
    });
    expect(response.status).toBe(200);
  });

  it("keeps the plain Bearer challenge when no token is sent, and names DPoP with its algorithms to a DPoP client", async () => {
    // RFC 9449 §7.1 lets a resource offer both schemes; Portcullis keeps the one challenge
    // bearer clients parse today, and names DPoP (with `algs`) once the client speaks it.
    const response = await gateway.fetch("/api/items");
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toBe('Bearer realm="portcullis"');
    const expired = await gateway.fetch("/api/items", { headers: { authorization: "DPoP not.a.token" } });
    expect(expired.status).toBe(401);
    const challenge = challengeOf(expired.headers.get("www-authenticate"), "DPoP");
    expect(challenge?.params.realm).toBe("portcullis");
    expect(challenge?.params.algs?.split(" ")).toEqual(expect.arrayContaining(OFFERED_ALGS));
  });
});

/** One request of the corpus: the path asked for and how. */
interface Attempt {
  readonly path: string;
  readonly init: RequestInit;
}

/** A GET of /api/items with a token bound to the client's key and the proof `build` makes for it. */
async function withProof(build: (token: string) => Promise<string>, path = "/api/items"): Promise<Attempt> {
  const token = await boundToken(key.thumbprint);
  return { path, init: { headers: dpopHeaders(token, await build(token)) } };
}

const PROOF = ["invalid_dpop_proof"] as const;
/** The contract allows either for a proof that is well made but by the wrong key, or missing. */
const PROOF_OR_TOKEN = ["invalid_dpop_proof", "invalid_token"] as const;
const TOKEN = ["invalid_token"] as const;

/**
 * The resource-request corpus: each is refused 401 with one of the errors given, and
 * nothing reaches the upstream.
 */
const RESOURCE_ATTACKS: ReadonlyArray<readonly [string, readonly string[], () => Promise<Attempt>]> = [
  // htm
  [
    "htm names another method (POST for a GET)",
    PROOF,
    () => withProof((t) => proofFor("/api/items", t, { htm: "POST" })),
  ],
  ["htm in lower case (htm is exact)", PROOF, () => withProof((t) => proofFor("/api/items", t, { htm: "get" }))],
  ["no htm", PROOF, () => withProof((t) => proofFor("/api/items", t, { claims: { htm: undefined } }))],
  // htu
  [
    "htu names another host (localhost for 127.0.0.1)",
    PROOF,
    () =>
      withProof((t) =>
        proofFor("/api/items", t, { htu: htuOf("/api/items", gateway.url.replace("127.0.0.1", "localhost")) }),
      ),
  ],
  [
    "htu names another host (an attacker's)",
    PROOF,
    () => withProof((t) => proofFor("/api/items", t, { htu: "http://evil.example/api/items" })),
  ],
  ["htu names another path", PROOF, () => withProof((t) => proofFor("/api/items", t, { htu: htuOf("/api/orders") }))],
  [
    "htu names another scheme (https for http)",
    PROOF,
    () =>
      withProof((t) =>
        proofFor("/api/items", t, { htu: htuOf("/api/items", gateway.url.replace(/^http:/, "https:")) }),
      ),
  ],
  [
    "htu names another port",
    PROOF,
    () =>
      withProof((t) => {
        const url = new URL(gateway.url);
        url.port = String(Number(url.port) + 1);
        return proofFor("/api/items", t, { htu: htuOf("/api/items", url.origin) });
      }),
  ],
  [
    "htu carries the request's query",
    PROOF,
    () => withProof((t) => proofFor("/api/items", t, { htu: htuOf("/api/items?page=2") }), "/api/items?page=2"),
  ],
  [
    "htu carries a query the request has not",
    PROOF,
    () => withProof((t) => proofFor("/api/items", t, { htu: htuOf("/api/items?x=1") })),
  ],
  [
    "htu carries a fragment",
    PROOF,
    () => withProof((t) => proofFor("/api/items", t, { htu: htuOf("/api/items#top") })),
  ],
  [
    "htu spells the path non-canonically (/api/%69tems for /api/items)",
    PROOF,
    () => withProof((t) => proofFor("/api/items", t, { htu: htuOf("/api/%69tems") })),
  ],
  [
    "htu spells the path with a dot segment (/api/x/../items)",
    PROOF,
    () => withProof((t) => proofFor("/api/items", t, { htu: htuOf("/api/x/../items") })),
  ],
  [
    "htu adds a trailing slash",
    PROOF,
    () => withProof((t) => proofFor("/api/items", t, { htu: htuOf("/api/items/") })),
  ],
  [
    "htu in another letter case (/API/items)",
    PROOF,
    () => withProof((t) => proofFor("/api/items", t, { htu: htuOf("/API/items") })),
  ],
  ["htu is only the path (relative)", PROOF, () => withProof((t) => proofFor("/api/items", t, { htu: "/api/items" }))],
  ["htu is not a string", PROOF, () => withProof((t) => proofFor("/api/items", t, { claims: { htu: 42 } }))],
  // iat
  ["iat too old (five minutes ago)", PROOF, () => withProof((t) => proofFor("/api/items", t, { iat: now() - 300 }))],
  [
    "iat in the future (five minutes ahead)",
    PROOF,
    () => withProof((t) => proofFor("/api/items", t, { iat: now() + 300 })),
  ],
  ["no iat", PROOF, () => withProof((t) => proofFor("/api/items", t, { claims: { iat: undefined } }))],
  ["iat as a string", PROOF, () => withProof((t) => proofFor("/api/items", t, { claims: { iat: String(now()) } }))],
  // jti
  ["no jti", PROOF, () => withProof((t) => proofFor("/api/items", t, { claims: { jti: undefined } }))],
  [
    "a jti longer than 256 characters",
    PROOF,
    () => withProof((t) => proofFor("/api/items", t, { jti: "j".repeat(257) })),
  ],
  // ath
  ["no ath though a token is presented", PROOF, () => withProof(() => proofFor("/api/items", undefined))],
  [
    "ath is the hash of another token",
    PROOF,
    () => withProof(async () => proofFor("/api/items", await boundToken(key.thumbprint))),
  ],
  [
    "ath in hex, not base64url",
    PROOF,
    () =>
      withProof((t) =>
        proofFor("/api/items", t, { claims: { ath: Buffer.from(accessTokenHash(t), "base64url").toString("hex") } }),
      ),
  ],
  // keys
  ["a well-made proof by another key", PROOF_OR_TOKEN, () => withProof((t) => proofFor("/api/items", t, {}, other))],
  [
    "a signature by another key than the embedded jwk",
    PROOF,
    () => withProof((t) => proofFor("/api/items", t, { signWith: other })),
  ],
  [
    "alg none, unsigned",
    PROOF,
    () => withProof((t) => proofFor("/api/items", t, { header: { alg: "none" }, signWith: "unsigned" })),
  ],
  [
    "HS256 with a symmetric (kty oct) jwk",
    PROOF,
    () =>
      withProof(async (t) => {
        const secret = await makeSymmetricKey();
        return proofFor("/api/items", t, {
          header: { alg: "HS256", jwk: secret.jwk },
          signWith: { alg: "HS256", key: secret.key },
        });
      }),
  ],
  [
    "a symmetric jwk under an asymmetric alg",
    PROOF,
    () => withProof(async (t) => proofFor("/api/items", t, { header: { jwk: (await makeSymmetricKey()).jwk } })),
  ],
  [
    "RS256 with a 1024-bit key",
    PROOF,
    async () => {
      const small = await makeDpopKey("RS256", { modulusLength: 1024 });
      const token = await boundToken(small.thumbprint);
      return {
        path: "/api/items",
        init: { headers: dpopHeaders(token, await proofFor("/api/items", token, {}, small)) },
      };
    },
  ],
  [
    "PS256 with a 1024-bit key",
    PROOF,
    async () => {
      const small = await makeDpopKey("PS256", { modulusLength: 1024 });
      const token = await boundToken(small.thumbprint);
      return {
        path: "/api/items",
        init: { headers: dpopHeaders(token, await proofFor("/api/items", token, {}, small)) },
      };
    },
  ],
  [
    "a jwk carrying d (the private EC key)",
    PROOF,
    () => withProof((t) => proofFor("/api/items", t, { header: { jwk: key.privateJwk } })),
  ],
  [
    "a jwk carrying the private RSA members",
    PROOF,
    async () => {
      const rsa = await makeDpopKey("RS256");
      const token = await boundToken(rsa.thumbprint);
      return {
        path: "/api/items",
        init: {
          headers: dpopHeaders(token, await proofFor("/api/items", token, { header: { jwk: rsa.privateJwk } }, rsa)),
        },
      };
    },
  ],
  [
    "an alg that does not fit the key (ES256 header, Ed25519 jwk)",
    PROOF,
    async () => {
      const ed = await makeDpopKey("EdDSA");
      const token = await boundToken(ed.thumbprint);
      return {
        path: "/api/items",
        init: { headers: dpopHeaders(token, await proofFor("/api/items", token, { header: { alg: "ES256" } }, ed)) },
      };
    },
  ],
  ["no jwk", PROOF, () => withProof((t) => proofFor("/api/items", t, { header: { jwk: undefined } }))],
  [
    "the key named by kid instead of a jwk",
    PROOF,
    () => withProof((t) => proofFor("/api/items", t, { header: { jwk: undefined, kid: key.thumbprint } })),
  ],
  [
    "the key behind a jku instead of a jwk",
    PROOF,
    () =>
      withProof((t) =>
        proofFor("/api/items", t, { header: { jwk: undefined, jku: `${gateway.upstream.url}/jwks.json` } }),
      ),
  ],
  [
    "the key in an x5c instead of a jwk",
    PROOF,
    () => withProof((t) => proofFor("/api/items", t, { header: { jwk: undefined, x5c: ["MIIBkTCB+wIJAK"] } })),
  ],
  // typ and shape
  ["typ JWT", PROOF, () => withProof((t) => proofFor("/api/items", t, { header: { typ: "JWT" } }))],
  ["no typ", PROOF, () => withProof((t) => proofFor("/api/items", t, { header: { typ: undefined } }))],
  [
    "a proof that is not a JWS",
    PROOF,
    async () => ({ path: "/api/items", init: { headers: dpopHeaders(await boundToken(key.thumbprint), "not-a-jws") } }),
  ],
  [
    "an empty DPoP header",
    PROOF_OR_TOKEN,
    async () => ({ path: "/api/items", init: { headers: dpopHeaders(await boundToken(key.thumbprint), "") } }),
  ],
  [
    "a payload that is not JSON",
    PROOF,
    () => withProof((t) => proofFor("/api/items", t, { payloadText: "htm=GET&htu=/api/items" })),
  ],
  [
    "a payload that is a JSON array",
    PROOF,
    () => withProof((t) => proofFor("/api/items", t, { payloadText: "[1,2]" })),
  ],
  [
    // JSON.parse keeps the last htm, other parsers the first: a proof must mean one thing.
    "a payload naming htm twice (POST, then GET)",
    PROOF,
    () =>
      withProof(async (t) => {
        const claims = JSON.stringify(proofClaims({ htm: "GET", htu: htuOf("/api/items"), accessToken: t }));
        return proofFor("/api/items", t, { payloadText: `{"htm":"POST",${claims.slice(1)}` });
      }),
  ],
  ["a crit header", PROOF, () => withProof((t) => proofFor("/api/items", t, { header: { crit: ["exp"], exp: 1 } }))],
  [
    "a proof longer than any proof needs to be (16 KiB)",
    PROOF,
    () => withProof((t) => proofFor("/api/items", t, { claims: { padding: "p".repeat(16_384) } })),
  ],
  [
    "two DPoP headers, both well made",
    PROOF,
    async () => {
      const token = await boundToken(key.thumbprint);
      return {
        path: "/api/items",
        init: {
          headers: [
            ["authorization", `DPoP ${token}`],
            ["dpop", await proofFor("/api/items", token)],
            ["dpop", await proofFor("/api/items", token)],
          ],
        },
      };
    },
  ],
  // the token's binding
  [
    "a bound token under the Bearer scheme",
    TOKEN,
    async () => ({
      path: "/api/items",
      init: { headers: { authorization: `Bearer ${await boundToken(key.thumbprint)}` } },
    }),
  ],
  [
    "a bound token under the Bearer scheme, a valid proof beside it",
    TOKEN,
    async () => {
      const token = await boundToken(key.thumbprint);
      return {
        path: "/api/items",
        init: { headers: { authorization: `Bearer ${token}`, dpop: await proofFor("/api/items", token) } },
      };
    },
  ],
  [
    "a bound token with no proof",
    PROOF_OR_TOKEN,
    async () => ({ path: "/api/items", init: { headers: dpopHeaders(await boundToken(key.thumbprint), undefined) } }),
  ],
  [
    "an unbound token under the DPoP scheme, with a valid proof",
    TOKEN,
    async () => {
      const token = await mintToken(gateway.key);
      return { path: "/api/items", init: { headers: dpopHeaders(token, await proofFor("/api/items", token)) } };
    },
  ],
  [
    "an expired bound token with a valid proof and no refresh cookie",
    TOKEN,
    async () => {
      const token = await mintToken(gateway.key, {
        claims: { cnf: { jkt: key.thumbprint } } as never,
        iatOffset: -3600,
      });
      return { path: "/api/items", init: { headers: dpopHeaders(token, await proofFor("/api/items", token)) } };
    },
  ],
];

describe("the resource-request attack corpus", () => {
  it.each(RESOURCE_ATTACKS)("refuses %s", async (_name, errors, attempt) => {
    const { path, init } = await attempt();
    await expectResourceRefusal(() => gateway.fetch(path, init), errors);
  });

  it("refuses a proof presented a second time", async () => {
    const token = await boundToken(key.thumbprint);
    const proof = await proofFor("/api/items", token);
    expect((await gateway.fetch("/api/items", { headers: dpopHeaders(token, proof) })).status).toBe(200);
    await expectResourceRefusal(() => gateway.fetch("/api/items", { headers: dpopHeaders(token, proof) }), PROOF);
  });

  it("refuses a new proof that reuses a spent jti", async () => {
    const token = await boundToken(key.thumbprint);
    const jti = crypto.randomUUID();
    const first = await proofFor("/api/items", token, { jti, iat: now() - 1 });
    expect((await gateway.fetch("/api/items", { headers: dpopHeaders(token, first) })).status).toBe(200);
    const second = await proofFor("/api/items", token, { jti });
    expect(second).not.toBe(first);
    await expectResourceRefusal(() => gateway.fetch("/api/items", { headers: dpopHeaders(token, second) }), PROOF);
  });

  it("refuses a spent jti on a strict route too (the session's object also remembers it)", async () => {
    const session = await dpopLogin(key);
    const jti = crypto.randomUUID();
    const first = await proofFor("/strict/a", session.accessToken, { jti });
    expect((await gateway.fetch("/strict/a", { headers: dpopHeaders(session.accessToken, first) })).status).toBe(200);
    const again = await proofFor("/strict/a", session.accessToken, { jti });
    await expectResourceRefusal(
      () => gateway.fetch("/strict/a", { headers: dpopHeaders(session.accessToken, again) }),
      PROOF,
    );
  });

  it.each<readonly [string, readonly string[], (expired: string) => Promise<HeadersInit>]>([
    [
      "another key's proof",
      PROOF_OR_TOKEN,
      async (expired) => dpopHeaders(expired, await proofFor("/api/items", expired, {}, other)),
    ],
    ["no proof", PROOF_OR_TOKEN, async (expired) => dpopHeaders(expired, undefined)],
    ["the Bearer scheme", TOKEN, async (expired) => ({ authorization: `Bearer ${expired}` })],
  ])(
    "refuses to refresh an expired bound token on the way with the refresh cookie and %s",
    async (_name, errors, headersOf) => {
      const session = await dpopLogin(key);
      const expired = await expiredBoundToken(session);
      const headers = new Headers(await headersOf(expired));
      headers.set("cookie", refreshCookieHeader(session.refreshToken));
      const { response } = await expectResourceRefusal(() => gateway.fetch("/api/items", { headers }), errors);
      expect(response.headers.get("authorization")).toBeNull();
      expect(setCookie(response, REFRESH_COOKIE)?.value ?? "").toBe("");
    },
  );
});

describe("the gateway's own endpoints that take the user's access token", () => {
  const listSessions = (token: string, scheme: "Bearer" | "DPoP", proof?: string) =>
    gateway.fetch("/auth/sessions", {
      headers: { authorization: `${scheme} ${token}`, ...(proof !== undefined ? { dpop: proof } : {}) },
    });

  it("lists the sessions for a bound token with a proof by its key", async () => {
    const session = await dpopLogin(key);
    const response = await listSessions(
      session.accessToken,
      "DPoP",
      await proofFor("/auth/sessions", session.accessToken),
    );
    expect(response.status).toBe(200);
    expect(((await response.json()) as { sessions: unknown[] }).sessions.length).toBeGreaterThan(0);
  });

  it.each<readonly [string, readonly string[], (token: string) => Promise<Response>]>([
    ["under the Bearer scheme", TOKEN, (token) => listSessions(token, "Bearer")],
    ["with no proof", PROOF_OR_TOKEN, (token) => listSessions(token, "DPoP")],
    [
      "with another key's proof",
      PROOF_OR_TOKEN,
      async (token) => listSessions(token, "DPoP", await proofFor("/auth/sessions", token, {}, other)),
    ],
    [
      "with a proof for a proxied path",
      PROOF,
      async (token) => listSessions(token, "DPoP", await proofFor("/api/items", token)),
    ],
  ])("refuses GET /auth/sessions to a stolen bound token %s", async (_name, errors, send) => {
    const session = await dpopLogin(key);
    await expectResourceRefusal(() => send(session.accessToken), errors);
  });

  it("refuses POST /auth/sessions/revoke-others to a stolen bound token under the Bearer scheme, and ends nothing", async () => {
    const victim = await dpopLogin(key);
    const elsewhere = await dpopLogin(key);
    await expectResourceRefusal(
      () =>
        gateway.fetch("/auth/sessions/revoke-others", {
          method: "POST",
          headers: { authorization: `Bearer ${victim.accessToken}` },
        }),
      TOKEN,
    );
    const still = await refresh(elsewhere.refreshToken, await refreshProof(key));
    expect(still.status).toBe(200);
  });
});

/** A login with this proof header (or none): alice's right password, so only the proof can fail. */
function loginWith(proof: string | undefined): Promise<Response> {
  return gateway.fetch("/auth/login", {
    method: "POST",
    headers: { "content-type": "application/json", ...(proof !== undefined ? { dpop: proof } : {}) },
    body: JSON.stringify({ username: "alice", password: TEST_USERS.alice?.password }),
  });
}

const loginProof = (options: Partial<ProofOptions> = {}, by = key) =>
  signProof(by, { htm: "POST", htu: htuOf("/auth/login"), ...options });

/** Login attacks: 400 invalid_dpop_proof, no session, and the credential check never asked. */
const LOGIN_ATTACKS: ReadonlyArray<readonly [string, () => Promise<string>]> = [
  ["htu of another endpoint (/auth/refresh)", () => loginProof({ htu: htuOf("/auth/refresh") })],
  ["htu of another host", () => loginProof({ htu: "http://evil.example/auth/login" })],
  ["htm GET", () => loginProof({ htm: "GET" })],
  ["iat too old", () => loginProof({ iat: now() - 300 })],
  ["alg none", () => loginProof({ header: { alg: "none" }, signWith: "unsigned" })],
  ["a jwk carrying d", () => loginProof({ header: { jwk: key.privateJwk } })],
  ["typ JWT", () => loginProof({ header: { typ: "JWT" } })],
  ["a signature by another key than the jwk", () => loginProof({ signWith: other })],
];

describe("the token-endpoint attack corpus", () => {
  it.each(LOGIN_ATTACKS)("refuses a login whose proof has %s, and asks no credential check", async (_name, proof) => {
    const sent = await proof();
    const before = gateway.upstream.received.length;
    await expectTokenEndpointRefusal(() => loginWith(sent), "invalid_dpop_proof");
    expect(gateway.upstream.received.length, "requests the upstream (credential check included) saw").toBe(before);
  });

  it("refuses a login proof presented a second time", async () => {
    const proof = await loginProof();
    expect((await loginWith(proof)).status).toBe(200);
    await expectTokenEndpointRefusal(() => loginWith(proof), "invalid_dpop_proof");
  });

  it("a bound session's refresh with the cookie and no proof is refused as reuse: the victim's next refresh and access token are refused too", async () => {
    const victim = await dpopLogin(key);
    const stolen = await refresh(victim.refreshToken);
    expect(stolen.status).toBe(401);
    expect(((await stolen.json()) as { error?: string }).error).toBe("invalid_grant");
    expect(setCookie(stolen, REFRESH_COOKIE)?.attributes).toContain("Max-Age=0");
    await expectSessionEnded(victim);
  });

  it("a bound session's refresh with another key's proof is refused as reuse: the session is ended", async () => {
    const victim = await dpopLogin(key);
    const stolen = await refresh(victim.refreshToken, await refreshProof(other));
    expect(stolen.status).toBe(401);
    expect(((await stolen.json()) as { error?: string }).error).toBe("invalid_grant");
    expect(setCookie(stolen, REFRESH_COOKIE)?.attributes).toContain("Max-Age=0");
    await expectSessionEnded(victim);
  });

  it("a bound session's refresh token sent in the RFC 6749 form without a proof is refused as reuse too", async () => {
    const victim = await dpopLogin(key);
    const stolen = await gateway.fetch("/auth/refresh", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: victim.refreshToken }),
    });
    expect(stolen.status).toBe(401);
    expect(((await stolen.json()) as { error?: string }).error).toBe("invalid_grant");
    await expectSessionEnded(victim);
  });

  it.each([
    ["htu of the login endpoint", () => refreshProof(key, { htu: htuOf("/auth/login") })],
    ["iat too old", () => refreshProof(key, { iat: now() - 300 })],
    ["alg none", () => refreshProof(key, { header: { alg: "none" }, signWith: "unsigned" })],
  ] as const)(
    "refuses a bound session's refresh whose proof has %s with 400, and leaves the session as it was",
    async (_name, proof) => {
      const session = await dpopLogin(key);
      const sent = await proof();
      await expectTokenEndpointRefusal(() => refresh(session.refreshToken, sent), "invalid_dpop_proof");
      // Nothing spent: the same refresh token still rotates with a good proof.
      const after = await refresh(session.refreshToken, await refreshProof(key));
      expect(after.status).toBe(200);
      expect(((await after.json()) as { token_type?: string }).token_type).toBe("DPoP");
    },
  );

  it("refuses a refresh proof presented a second time, and leaves the session as it was", async () => {
    const session = await dpopLogin(key);
    const proof = await refreshProof(key);
    const first = await refresh(session.refreshToken, proof);
    expect(first.status).toBe(200);
    const rotated = setCookie(first, REFRESH_COOKIE)?.value ?? "";
    await expectTokenEndpointRefusal(() => refresh(rotated, proof), "invalid_dpop_proof");
    expect((await refresh(rotated, await refreshProof(key))).status).toBe(200);
  });

  it("binds a bearer session at its first refresh with a proof; from then on a refresh needs that key", async () => {
    const response = await loginWith(undefined);
    expect(response.status).toBe(200);
    expect(((await response.json()) as { token_type?: string }).token_type).toBe("Bearer");
    const cookie = setCookie(response, REFRESH_COOKIE)?.value ?? "";
    const bound = await refresh(cookie, await refreshProof(key));
    expect(bound.status).toBe(200);
    const body = (await bound.json()) as { token_type?: string; access_token?: string };
    expect(body.token_type).toBe("DPoP");
    expect(decodeClaims(String(body.access_token)).cnf).toEqual({ jkt: key.thumbprint });
    const next = setCookie(bound, REFRESH_COOKIE)?.value ?? "";
    const bare = await refresh(next);
    expect(bare.status).toBe(401);
    expect(((await bare.json()) as { error?: string }).error).toBe("invalid_grant");
  });
});

/** The session was ended as for refresh-token reuse: its refresh token and its access token are refused. */
async function expectSessionEnded(victim: SessionOfKey): Promise<void> {
  const again = await refresh(victim.refreshToken, await refreshProof(key));
  expect(again.status).toBe(401);
  expect(((await again.json()) as { error?: string }).error).toBe("invalid_grant");
  // The session's revocation reaches the edge through KV: within the bound, not necessarily at once.
  const deadline = Date.now() + REVOCATION_BOUND_MS;
  let status = 0;
  do {
    const response = await gateway.fetch("/api/items", {
      headers: dpopHeaders(victim.accessToken, await proofFor("/api/items", victim.accessToken)),
    });
    await response.body?.cancel();
    status = response.status;
    if (status === 401) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  } while (Date.now() < deadline);
  expect(status, "the victim's access token after the session ended").toBe(401);
  await expectResourceRefusal(
    async () =>
      gateway.fetch("/api/items", {
        headers: dpopHeaders(victim.accessToken, await proofFor("/api/items", victim.accessToken)),
      }),
    TOKEN,
  );
}

const NONCE_SECRET = "test-dpop-nonce-secret-0123456789abcdef";
const OTHER_NONCE_SECRET = "another-deployments-dpop-nonce-secret-42";

describe("server nonces (DPOP_NONCE) and DPoP-only sessions (DPOP_SESSIONS = required)", () => {
  let nonced: Gateway;
  let elsewhere: Gateway;
  beforeAll(async () => {
    const vars = { ROUTES, DPOP_NONCE: "true", DPOP_SESSIONS: "required", ALLOWED_ORIGINS: JSON.stringify([APP]) };
    [nonced, elsewhere] = await Promise.all([
      startGateway({ upstream: gateway.upstream, vars: { ...vars, DPOP_NONCE_SECRET: NONCE_SECRET } }),
      startGateway({ upstream: gateway.upstream, vars: { ...vars, DPOP_NONCE_SECRET: OTHER_NONCE_SECRET } }),
    ]);
  });
  afterAll(async () => {
    await nonced?.close();
    await elsewhere?.close();
  });

  /** A GET of /api/items at `at` with a token of its own bound to the client's key. */
  async function nonceAttempt(at: Gateway, nonce: string | undefined, extra: Record<string, string> = {}) {
    const token = await mintToken(at.key, { claims: { cnf: { jkt: key.thumbprint } } as never });
    const proof = await signProof(key, {
      htm: "GET",
      htu: `${at.url}/api/items`,
      accessToken: token,
      ...(nonce !== undefined ? { nonce } : {}),
    });
    return at.fetch("/api/items", { headers: dpopHeaders(token, proof, extra) });
  }

  /** The nonce a gateway hands out, from a proof without one. */
  async function currentNonce(at: Gateway): Promise<string> {
    const response = await nonceAttempt(at, undefined);
    await response.body?.cancel();
    const nonce = response.headers.get("dpop-nonce");
    expect(nonce).toMatch(/^[\x21-\x7e]+$/);
    return nonce ?? "";
  }

  it("answers a proof without a nonce 401 use_dpop_nonce with a DPoP-Nonce; the retry with it is forwarded", async () => {
    const { response } = await expectResourceRefusal(() => nonceAttempt(nonced, undefined), ["use_dpop_nonce"]);
    const nonce = response.headers.get("dpop-nonce");
    expect(nonce).toMatch(/^[\x21-\x7e]+$/);
    const retry = await nonceAttempt(nonced, nonce ?? "");
    expect(retry.status).toBe(200);
    expect(retry.headers.get("dpop-nonce")).toMatch(/^[\x21-\x7e]+$/);
    expect(gateway.upstream.proxied().at(-1)?.headers["x-auth-key-thumbprint"]).toBe(key.thumbprint);
  });

  it("hands out the nonce the test can reproduce (so the old-nonce cases below test what they say)", async () => {
    const handedOut = await currentNonce(nonced);
    const period = periodNow();
    // The request may have crossed a period boundary: the nonce is this period's or the last's.
    expect([nonceOfPeriod(NONCE_SECRET, period), nonceOfPeriod(NONCE_SECRET, period - 1)]).toContain(handedOut);
  });

  it("lets a browser read DPoP-Nonce (Access-Control-Expose-Headers)", async () => {
    const response = await nonceAttempt(nonced, undefined, { origin: APP });
    await response.body?.cancel();
    expect(response.headers.get("dpop-nonce")).not.toBeNull();
    const exposed = (response.headers.get("access-control-expose-headers") ?? "").toLowerCase().split(/\s*,\s*/);
    expect(exposed).toContain("dpop-nonce");
  });

  it.each<readonly [string, () => Promise<string>]>([
    ["a made-up nonce", async () => "made-up-nonce-0123456789"],
    ["an empty nonce", async () => ""],
    ["a nonce of another deployment (another DPOP_NONCE_SECRET)", () => currentNonce(elsewhere)],
    // A day ago, as a proof made ahead of time (or copied from an old log) would carry.
    ["a nonce from far in the past (a day ago)", async () => nonceOfPeriod(NONCE_SECRET, periodNow() - 1440)],
    [
      "the nonce of two periods ago (accepted for two periods only)",
      async () => nonceOfPeriod(NONCE_SECRET, periodNow() - 2),
    ],
  ])("refuses a proof with %s: 401 use_dpop_nonce and a fresh DPoP-Nonce", async (_name, nonceOf) => {
    const nonce = await nonceOf();
    const { response } = await expectResourceRefusal(() => nonceAttempt(nonced, nonce), ["use_dpop_nonce"]);
    expect(response.headers.get("dpop-nonce")).toMatch(/^[\x21-\x7e]+$/);
    expect(response.headers.get("dpop-nonce")).not.toBe(nonce);
  });

  it("answers a login proof without a nonce 400 use_dpop_nonce with a DPoP-Nonce; the retry logs in bound", async () => {
    const login = (nonce?: string) =>
      signProof(key, { htm: "POST", htu: `${nonced.url}/auth/login`, ...(nonce !== undefined ? { nonce } : {}) }).then(
        (proof) =>
          nonced.fetch("/auth/login", {
            method: "POST",
            headers: { "content-type": "application/json", dpop: proof },
            body: JSON.stringify({ username: "alice", password: TEST_USERS.alice?.password }),
          }),
      );
    const first = await login();
    expect(first.status).toBe(400);
    expect(((await first.json()) as { error?: string }).error).toBe("use_dpop_nonce");
    expect(setCookie(first, REFRESH_COOKIE)?.value ?? "").toBe("");
    const nonce = first.headers.get("dpop-nonce");
    expect(nonce).toMatch(/^[\x21-\x7e]+$/);
    const retry = await login(nonce ?? "");
    expect(retry.status).toBe(200);
    const body = (await retry.json()) as { token_type?: string; access_token?: string };
    expect(body.token_type).toBe("DPoP");
    expect(decodeClaims(String(body.access_token)).cnf).toEqual({ jkt: key.thumbprint });
  });

  it("refuses a login without a proof where sessions must be DPoP-bound: 400 invalid_dpop_proof, no session", async () => {
    const before = gateway.upstream.received.length;
    const response = await nonced.fetch("/auth/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "alice", password: TEST_USERS.alice?.password }),
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error?: string }).error).toBe("invalid_dpop_proof");
    expect(setCookie(response, REFRESH_COOKIE)?.value ?? "").toBe("");
    expect(gateway.upstream.received.length).toBe(before);
  });
});

/** Seconds one gateway nonce is handed out for (src/dpop/dpop-nonce.ts); a nonce is accepted for two. */
const NONCE_PERIOD_SECONDS = 60;

/**
 * The nonce the gateway with `secret` hands out in `period` (its number since the epoch).
 * This reproduces the gateway's stateless format (src/dpop/dpop-nonce.ts: the first 18 bytes
 * of HMAC-SHA-256(secret, "portcullis-dpop-nonce:<period>"), base64url), which the test can
 * because it knows DPOP_NONCE_SECRET: the only way to hold a nonce from long ago without
 * waiting for it. The test first checks the reproduction against a nonce the gateway handed
 * out, so a changed format fails loudly instead of making the "old nonce" case vacuous.
 */
function nonceOfPeriod(secret: string, period: number): string {
  const mac = createHmac("sha256", secret).update(`portcullis-dpop-nonce:${period}`).digest();
  return mac.subarray(0, 18).toString("base64url");
}

const periodNow = () => Math.floor(Date.now() / 1000 / NONCE_PERIOD_SECONDS);
