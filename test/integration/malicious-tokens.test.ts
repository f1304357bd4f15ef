/**
 * A corpus of hostile and malformed access tokens (RFC 8725 and the classic JWT attacks).
 * Every one must be refused with 401 `invalid_token`, with a body that never echoes it,
 * and without anything reaching the upstream (invariant 1). A request that carries a
 * token in two places gets 400 `invalid_request` (RFC 6750 §3.1).
 *
 * Most hostile tokens are built by hand (jose refuses to produce them) and, wherever it
 * makes the case sharper, signed with the gateway's own key: then only the property under
 * test can be the reason for the refusal. Positive controls prove that each verification
 * path (EdDSA signing key, ES256 from VERIFY_JWKS, HS256 ACCESS_SECRET) accepts a
 * well-formed token, so the corpus cannot pass vacuously.
 */
import { createHmac, createPublicKey, sign as nodeSign } from "node:crypto";
import type { JWK } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AUDIENCE, type Gateway, ISSUER, startGateway } from "../support/gateway";
import { makeKey, TEST_SECRETS, type TestKey } from "../support/test-keys";
import { mintToken } from "../support/tokens";

const ES256_KID = "test-es256";
const ED25519_KID = "test-ed25519";
/** The gateway's MAX_TOKEN_LENGTH. */
const TOKEN_CAP = 8192;
const ATTACKER_JWKS_PATH = "/attacker/jwks.json";

let gateway: Gateway;
let es256: TestKey;
let attacker: TestKey;
let attackerRsa: TestKey;
/** The gateway's Ed25519 public key exactly as it publishes it (what an attacker sees). */
let publishedJwk: JWK;

beforeAll(async () => {
  es256 = await makeKey("ES256", ES256_KID);
  attacker = await makeKey("EdDSA", ED25519_KID);
  attackerRsa = await makeKey("RS256", ED25519_KID);
  gateway = await startGateway({
    vars: {
      ACCESS_SECRET: TEST_SECRETS.ACCESS_SECRET,
      VERIFY_JWKS: JSON.stringify({ keys: [es256.publicJwk] }),
    },
  });
  // A key set the attacker controls, served from a host the gateway can reach: if the
  // gateway ever followed `jku`/`x5u`, this route would record the fetch.
  gateway.upstream.route(ATTACKER_JWKS_PATH, (_request, response) => {
    response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [attacker.publicJwk] }));
  });
  const jwks = (await (await gateway.fetch("/.well-known/jwks.json")).json()) as { keys: JWK[] };
  const published = jwks.keys.find((key) => key.kid === ED25519_KID);
  if (published === undefined) throw new Error("the gateway does not publish its test key");
  publishedJwk = published;
});
afterAll(() => gateway.close());

// ---------------------------------------------------------------------------------------
// Building tokens by hand

type Signer = (data: Buffer) => Promise<Uint8Array> | Uint8Array;

function segment(value: unknown): string {
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64url");
  return Buffer.from(typeof value === "string" ? value : JSON.stringify(value), "utf8").toString("base64url");
}

async function compact(header: unknown, payload: unknown, signer: Signer): Promise<string> {
  const signingInput = `${segment(header)}.${segment(payload)}`;
  const signature = await signer(Buffer.from(signingInput, "ascii"));
  return `${signingInput}.${Buffer.from(signature).toString("base64url")}`;
}

/** Sign exactly these segments (for payloads that must stay byte-for-byte as written). */
async function compactRaw(headerSegment: string, payloadSegment: string, signer: Signer): Promise<string> {
  const signingInput = `${headerSegment}.${payloadSegment}`;
  const signature = await signer(Buffer.from(signingInput, "ascii"));
  return `${signingInput}.${Buffer.from(signature).toString("base64url")}`;
}

const withKey =
  (key: TestKey): Signer =>
  async (data) => {
    const algorithm =
      key.privateJwk.alg === "ES256"
        ? { name: "ECDSA", hash: "SHA-256" }
        : key.privateJwk.alg === "RS256"
          ? { name: "RSASSA-PKCS1-v1_5" }
          : { name: "Ed25519" };
    return new Uint8Array(await crypto.subtle.sign(algorithm, key.privateKey, new Uint8Array(data)));
  };

const gatewayKey: Signer = (data) => withKey(gateway.key)(data);
const es256Key: Signer = (data) => withKey(es256)(data);
const hmac =
  (secret: string | Uint8Array, hash = "sha256"): Signer =>
  (data) =>
    createHmac(hash, secret).update(data).digest();
const fixedSignature =
  (bytes: Uint8Array): Signer =>
  () =>
    bytes;

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** The claims of a token the gateway would accept, with `overrides` (undefined removes). */
function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const iat = nowSeconds();
  const payload: Record<string, unknown> = {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: "user-alice",
    iat,
    exp: iat + 300,
    jti: crypto.randomUUID(),
    sid: "AAAAAAAAAAAAAAAAAAAAAA",
    scope: "read write",
    ...overrides,
  };
  for (const [name, value] of Object.entries(payload)) if (value === undefined) delete payload[name];
  return payload;
}

function edHeader(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const header: Record<string, unknown> = { alg: "EdDSA", typ: "at+jwt", kid: ED25519_KID, ...overrides };
  for (const [name, value] of Object.entries(header)) if (value === undefined) delete header[name];
  return header;
}

/** A token the gateway accepts, signed with its own key, with the header and claims changed. */
function gatewaySigned(header: Record<string, unknown> = {}, payload: Record<string, unknown> = {}): Promise<string> {
  return compact(edHeader(header), claims(payload), gatewayKey);
}

function hsClaims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return claims({ jti: undefined, sid: undefined, ...overrides });
}

function parts(token: string): [string, string, string] {
  const [header = "", payload = "", signature = ""] = token.split(".");
  return [header, payload, signature];
}

function flipFirstBit(base64url: string): string {
  const bytes = Buffer.from(base64url, "base64url");
  bytes[0] = (bytes[0] ?? 0) ^ 0x01;
  return bytes.toString("base64url");
}

/** The order n of P-256: an ECDSA signature with r or s ≡ 0 (mod n) must never verify. */
const P256_ORDER = Buffer.from("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551", "hex");

// ---------------------------------------------------------------------------------------
// Asserting a refusal

interface Refusal {
  readonly status: number;
  readonly error: "invalid_token" | "invalid_request";
}

const INVALID_TOKEN: Refusal = { status: 401, error: "invalid_token" };
const INVALID_REQUEST: Refusal = { status: 400, error: "invalid_request" };

async function expectRefused(
  headers: HeadersInit,
  secrets: readonly string[],
  expected: Refusal = INVALID_TOKEN,
): Promise<Response> {
  const before = gateway.upstream.received.length;
  const response = await gateway.fetch("/api/things", { headers });
  const body = await response.text();
  expect(response.status).toBe(expected.status);
  expect(response.headers.get("www-authenticate")).toBe(`Bearer realm="portcullis", error="${expected.error}"`);
  expect(response.headers.get("content-type")).toBe("application/problem+json");
  expect(JSON.parse(body)).toMatchObject({ status: expected.status, error: expected.error });
  for (const secret of secrets) {
    expect(body).not.toContain(secret);
    for (const part of secret.split(".")) if (part.length >= 8) expect(body).not.toContain(part);
  }
  expect(gateway.upstream.received.length).toBe(before);
  return response;
}

function refusedAsBearer(token: string): Promise<Response> {
  return expectRefused({ authorization: `Bearer ${token}` }, [token]);
}

function refusedAsCookie(token: string): Promise<Response> {
  return expectRefused({ cookie: `__Host-portcullis-access=${token}` }, [token]);
}

/** The gateway's log line for a request, by its request id (logs arrive asynchronously). */
async function refusalCode(response: Response): Promise<unknown> {
  const requestId = response.headers.get("x-request-id");
  expect(requestId).toBeTruthy();
  const [line] = await gateway.waitForLog(
    (candidate) => candidate.includes(requestId as string) && candidate.includes('"event":"request_refused"'),
  );
  return (JSON.parse((line as string).slice((line as string).indexOf("{"))) as { code?: string }).code;
}

async function acceptedAsBearer(token: string): Promise<void> {
  const before = gateway.upstream.proxied().length;
  const response = await gateway.fetch("/api/things", { headers: { authorization: `Bearer ${token}` } });
  expect(response.status).toBe(200);
  await response.body?.cancel();
  expect(gateway.upstream.proxied().length).toBe(before + 1);
  expect(gateway.upstream.proxied().at(-1)?.headers.authorization).toBe(`Bearer ${token}`);
}

// ---------------------------------------------------------------------------------------

describe("positive controls (the corpus cannot pass vacuously)", () => {
  it("accepts a well-formed EdDSA token from the test helpers", async () => {
    await acceptedAsBearer(await mintToken(gateway.key));
  });

  it("accepts a well-formed EdDSA token built by this file's own hand-rolled signer", async () => {
    await acceptedAsBearer(await gatewaySigned());
  });

  it("accepts a well-formed ES256 token signed with the VERIFY_JWKS key", async () => {
    await acceptedAsBearer(await compact({ alg: "ES256", kid: ES256_KID }, claims(), es256Key));
  });

  it("accepts a well-formed HS256 token signed with ACCESS_SECRET", async () => {
    await acceptedAsBearer(await compact({ alg: "HS256", typ: "JWT" }, hsClaims(), hmac(TEST_SECRETS.ACCESS_SECRET)));
  });

  it("accepts a token just under the length cap", async () => {
    const base = await gatewaySigned({}, { pad: "" });
    let padding = Math.floor(((TOKEN_CAP - base.length) * 3) / 4) + 1;
    let token = base;
    do token = await gatewaySigned({}, { pad: "x".repeat(--padding) });
    while (token.length > TOKEN_CAP);
    expect(token.length).toBeGreaterThan(TOKEN_CAP - 4);
    await acceptedAsBearer(token);
  });
});

describe("alg none and missing algorithms", () => {
  it.each(["none", "None", "NONE", "nOnE"])(
    'refuses an unsigned token with alg "%s" and an empty signature',
    async (alg) => {
      const token = `${segment(edHeader({ alg, kid: undefined }))}.${segment(claims())}.`;
      await refusedAsBearer(token);
    },
  );

  it.each(["none", "None"])('refuses alg "%s" carrying a signature copied from a valid token', async (alg) => {
    const [, , signature] = parts(await gatewaySigned());
    const token = `${segment(edHeader({ alg }))}.${segment(claims())}.${signature}`;
    await refusedAsBearer(token);
  });

  it("refuses a token whose header has no alg, even with a valid signature", async () => {
    await refusedAsBearer(await gatewaySigned({ alg: undefined }));
  });

  it("refuses a token whose alg is not a string", async () => {
    await refusedAsBearer(await gatewaySigned({ alg: ["EdDSA"] }));
  });

  it("refuses an alg that merely looks like EdDSA (homoglyph, NUL, trailing space)", async () => {
    for (const alg of ["EdDS\u0410", "EdDSA\u0000", "EdDSA ", "eddsa"]) {
      await refusedAsBearer(await gatewaySigned({ alg }));
    }
  });

  it("refuses an algorithm no configured key uses (ES512, PS256, HS512)", async () => {
    for (const alg of ["ES512", "PS256", "HS512"]) {
      await refusedAsBearer(await gatewaySigned({ alg }));
    }
  });
});

describe("key confusion", () => {
  it("refuses a token signed with HS256 using the raw public key bytes", async () => {
    const secret = Buffer.from(publishedJwk.x as string, "base64url");
    await refusedAsBearer(await compact(edHeader({ alg: "HS256" }), claims(), hmac(secret)));
  });

  it("refuses a token signed with HS256 using the published public JWK as the secret", async () => {
    await refusedAsBearer(await compact(edHeader({ alg: "HS256" }), claims(), hmac(JSON.stringify(publishedJwk))));
  });

  it("refuses a token signed with HS256 using the public key's PEM as the secret", async () => {
    const pem = createPublicKey({ key: publishedJwk as never, format: "jwk" }).export({ type: "spki", format: "pem" });
    await refusedAsBearer(await compact(edHeader({ alg: "HS256" }), claims(), hmac(pem as string)));
  });

  it("refuses a token signed with HS256 using the ES256 verification key's coordinates", async () => {
    const secret = Buffer.concat([
      Buffer.from(es256.publicJwk.x as string, "base64url"),
      Buffer.from(es256.publicJwk.y as string, "base64url"),
    ]);
    const header = { alg: "HS256", kid: ES256_KID };
    await refusedAsBearer(await compact(header, hsClaims(), hmac(secret)));
  });

  it("refuses an HS256 token signed with an empty key", async () => {
    await refusedAsBearer(await compact({ alg: "HS256" }, hsClaims(), hmac("")));
  });
});

describe("keys named by the token itself", () => {
  it("refuses a token that embeds its own signing key in a jwk header", async () => {
    const token = await compact(edHeader({ jwk: attacker.publicJwk }), claims(), withKey(attacker));
    await refusedAsBearer(token);
  });

  it("refuses a token whose jku points at a key set the attacker controls, without fetching it", async () => {
    const jku = `${gateway.upstream.url}${ATTACKER_JWKS_PATH}`;
    const token = await compact(edHeader({ jku }), claims(), withKey(attacker));
    await refusedAsBearer(token);
    expect(gateway.upstream.received.some((request) => request.url === ATTACKER_JWKS_PATH)).toBe(false);
  });

  it("refuses a token with a jku header even when the gateway's own key signed it", async () => {
    await refusedAsBearer(await gatewaySigned({ jku: `${gateway.upstream.url}${ATTACKER_JWKS_PATH}` }));
  });

  it("refuses a token whose x5u points elsewhere, without fetching it", async () => {
    const token = await compact(
      edHeader({ x5u: `${gateway.upstream.url}/attacker/cert.pem` }),
      claims(),
      withKey(attacker),
    );
    await refusedAsBearer(token);
    expect(gateway.upstream.received.some((request) => request.url.startsWith("/attacker/"))).toBe(false);
  });

  it("refuses a token that carries an x5c certificate chain", async () => {
    await refusedAsBearer(await gatewaySigned({ x5c: ["MIIBszCCAVmgAwIBAgIUdGVzdA=="] }));
  });

  it("refuses a token signed by another Ed25519 key that reuses the gateway's kid", async () => {
    await refusedAsBearer(await compact(edHeader(), claims(), withKey(attacker)));
  });
});

describe("kid abuse", () => {
  it.each([
    ["path traversal to /dev/null", "../../../../../../dev/null"],
    ["an absolute path", "/etc/passwd"],
    ["SQL injection", "x' UNION SELECT 'attacker-secret' --"],
    ["shell injection", `${ED25519_KID}|curl attacker.test`],
    ["a command substitution", "$(cat /etc/passwd)"],
    ["a trailing NUL", `${ED25519_KID}\u0000`],
    ["CRLF header injection", `${ED25519_KID}\r\nX-Auth-Subject: admin`],
    ["a zero-width space", `${ED25519_KID}\u200b`],
    ["a different letter case", ED25519_KID.toUpperCase()],
    ["__proto__", "__proto__"],
    ["an overlong value", "k".repeat(300)],
  ])("refuses a gateway-signed token whose kid is %s", async (_name, kid) => {
    await refusedAsBearer(await gatewaySigned({ kid }));
  });

  it("refuses a kid path traversal paired with HS256 and an empty key", async () => {
    await refusedAsBearer(await compact({ alg: "HS256", kid: "../../../../../../dev/null" }, hsClaims(), hmac("")));
  });

  it("refuses a kid SQL injection paired with HS256 and the injected secret", async () => {
    const token = await compact({ alg: "HS256", kid: "x' UNION SELECT 'pwned' --" }, hsClaims(), hmac("pwned"));
    await refusedAsBearer(token);
  });

  it("refuses a kid that is not a string", async () => {
    await refusedAsBearer(await gatewaySigned({ kid: 1 }));
  });
});

describe("algorithm and key mismatches", () => {
  it("refuses an RS256 token when the kid names the EdDSA key", async () => {
    await refusedAsBearer(await compact(edHeader({ alg: "RS256" }), claims(), withKey(attackerRsa)));
  });

  it("refuses an RS256 token without a kid when only EdDSA and ES256 keys are configured", async () => {
    await refusedAsBearer(await compact({ alg: "RS256", typ: "at+jwt" }, claims(), withKey(attackerRsa)));
  });

  it("refuses an ES256 token whose kid names the EdDSA key", async () => {
    await refusedAsBearer(await compact(edHeader({ alg: "ES256" }), claims(), es256Key));
  });

  it("refuses an EdDSA token whose kid names the ES256 key", async () => {
    await refusedAsBearer(await gatewaySigned({ kid: ES256_KID }));
  });
});

describe("unsupported JWS features", () => {
  it("refuses an unknown critical extension", async () => {
    await refusedAsBearer(await gatewaySigned({ crit: ["urn:attacker:ignore-exp"], "urn:attacker:ignore-exp": true }));
  });

  it("refuses a crit list naming a registered claim", async () => {
    await refusedAsBearer(await gatewaySigned({ crit: ["exp"] }));
  });

  it("refuses an unencoded payload (b64: false)", async () => {
    const header = segment(edHeader({ b64: false, crit: ["b64"] }));
    const payload = JSON.stringify(claims());
    const signature = await gatewayKey(Buffer.concat([Buffer.from(`${header}.`), Buffer.from(payload)]));
    await refusedAsBearer(`${header}.${segment(payload)}.${Buffer.from(signature).toString("base64url")}`);
  });

  it("refuses a compressed payload (zip)", async () => {
    await refusedAsBearer(await gatewaySigned({ zip: "DEF" }));
  });

  it("refuses a JWE where a JWS is expected", async () => {
    const header = segment({ alg: "dir", enc: "A256GCM", kid: ED25519_KID });
    const token = `${header}..${segment(new Uint8Array(12))}.${segment(new Uint8Array(40))}.${segment(new Uint8Array(16))}`;
    await refusedAsBearer(token);
  });

  it("refuses a three-part token whose header says it is encrypted (enc)", async () => {
    await refusedAsBearer(await gatewaySigned({ enc: "A256GCM" }));
  });

  it("refuses a nested JWT (cty JWT, payload a token)", async () => {
    const inner = await gatewaySigned();
    await refusedAsBearer(await compact(edHeader({ cty: "JWT" }), inner, gatewayKey));
  });
});

describe("ECDSA signature edge cases", () => {
  it("refuses an ES256 signature with r = s = 0", async () => {
    await refusedAsBearer(
      await compact({ alg: "ES256", kid: ES256_KID }, claims(), fixedSignature(new Uint8Array(64))),
    );
  });

  it("refuses an ES256 signature with r = s = n (the curve order)", async () => {
    const signature = Buffer.concat([P256_ORDER, P256_ORDER]);
    await refusedAsBearer(await compact({ alg: "ES256", kid: ES256_KID }, claims(), fixedSignature(signature)));
  });

  it("refuses an ES256 signature in DER instead of the JWS fixed-width form", async () => {
    const der: Signer = (data) =>
      nodeSign("sha256", data, { key: es256.privateJwk as never, format: "jwk", dsaEncoding: "der" });
    await refusedAsBearer(await compact({ alg: "ES256", kid: ES256_KID }, claims(), der));
  });
});

describe("damaged signatures and segments", () => {
  it("refuses a token whose signature was stripped", async () => {
    const [header, payload] = parts(await gatewaySigned());
    await refusedAsBearer(`${header}.${payload}.`);
  });

  it("refuses a token whose signature was truncated", async () => {
    const token = await gatewaySigned();
    await refusedAsBearer(token.slice(0, -6));
  });

  it("refuses a token whose signature is a single byte", async () => {
    const [header, payload] = parts(await gatewaySigned());
    await refusedAsBearer(`${header}.${payload}.AA`);
  });

  it("refuses a token whose signature has one bit flipped", async () => {
    const [header, payload, signature] = parts(await gatewaySigned());
    await refusedAsBearer(`${header}.${payload}.${flipFirstBit(signature)}`);
  });

  it("refuses a token whose claims were changed after signing", async () => {
    const [header, , signature] = parts(await gatewaySigned());
    await refusedAsBearer(`${header}.${segment(claims({ sub: "user-admin", scope: "admin" }))}.${signature}`);
  });

  it("refuses a token whose header was changed after signing", async () => {
    const [, payload, signature] = parts(await gatewaySigned());
    await refusedAsBearer(`${segment(edHeader({ typ: "JWT" }))}.${payload}.${signature}`);
  });

  it("refuses a token with a trailing dot", async () => {
    await refusedAsBearer(`${await gatewaySigned()}.`);
  });

  it("refuses a four-part token", async () => {
    await refusedAsBearer(`${await gatewaySigned()}.${segment("extra")}`);
  });

  it("refuses a two-part token", async () => {
    const [header, payload] = parts(await gatewaySigned());
    await refusedAsBearer(`${header}.${payload}`);
  });

  it("refuses a token of empty segments", async () => {
    await refusedAsBearer("..");
  });

  it("refuses an opaque string that is no JWS at all", async () => {
    await refusedAsBearer("eyJhbGciOiJFZERTQSJ9");
  });

  it("refuses a header that is base64url of something other than JSON", async () => {
    const [, payload] = parts(await gatewaySigned());
    await refusedAsBearer(await compactRaw(segment("not json"), payload, gatewayKey));
  });

  it("refuses a header that is a JSON array", async () => {
    await refusedAsBearer(await compact(["EdDSA"], claims(), gatewayKey));
  });

  it("refuses a payload that is a JSON string, not an object", async () => {
    await refusedAsBearer(await compact(edHeader(), "just a string", gatewayKey));
  });

  it("refuses a payload that is not UTF-8", async () => {
    await refusedAsBearer(
      await compactRaw(segment(edHeader()), segment(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])), gatewayKey),
    );
  });
});

describe("refused before any cryptography", () => {
  it("refuses a token longer than the cap, even one the gateway's key signed", async () => {
    const token = await gatewaySigned({}, { pad: "x".repeat(TOKEN_CAP) });
    expect(token.length).toBeGreaterThan(TOKEN_CAP);
    expect(await refusalCode(await refusedAsBearer(token))).toBe("token_malformed");
  });

  it("refuses a token one character over the cap", async () => {
    const base = await gatewaySigned({}, { pad: "" });
    let padding = Math.floor(((TOKEN_CAP - base.length) * 3) / 4);
    let token = base;
    while (token.length <= TOKEN_CAP) token = await gatewaySigned({}, { pad: "x".repeat(++padding) });
    expect(token.length).toBeLessThanOrEqual(TOKEN_CAP + 4);
    expect(await refusalCode(await refusedAsBearer(token))).toBe("token_malformed");
  });

  it("refuses an oversized token from the cookie too", async () => {
    const token = await gatewaySigned({}, { pad: "y".repeat(TOKEN_CAP * 2) });
    expect(await refusalCode(await refusedAsCookie(token))).toBe("token_malformed");
  });

  it("refuses standard base64 (+ and /) in place of base64url", async () => {
    const [header, payload] = parts(await gatewaySigned());
    const token = `${header}.${payload}.${Buffer.from(new Uint8Array(64).fill(0xfb)).toString("base64")}`;
    expect(token).toMatch(/[+/]/);
    expect(await refusalCode(await refusedAsBearer(token))).toBe("token_malformed");
  });

  it("refuses base64 padding on a segment", async () => {
    const [header, payload, signature] = parts(await gatewaySigned());
    expect(await refusalCode(await refusedAsBearer(`${header}.${payload}.${signature}==`))).toBe("token_malformed");
  });

  it("refuses a Bearer header that is not a b64token", async () => {
    const [header, payload] = parts(await gatewaySigned());
    const token = `${header}.${payload}.%00!`;
    expect(await refusalCode(await refusedAsBearer(token))).toBe("token_malformed");
  });

  it("refuses a Bearer header with two tokens separated by a space", async () => {
    const token = await gatewaySigned();
    expect(await refusalCode(await refusedAsBearer(`${token} ${token}`))).toBe("token_malformed");
  });

  it("refuses a cookie token with characters outside base64url", async () => {
    const token = await gatewaySigned();
    for (const hostile of [`${token}!`, token.replace(".", " ."), `${token}\u00e9`, `${token}%3D`]) {
      expect(await refusalCode(await refusedAsCookie(hostile))).toBe("token_malformed");
    }
  });
});

describe("claims", () => {
  it.each([
    ["no exp", { exp: undefined }],
    ["no iat", { iat: undefined }],
    ["no sub", { sub: undefined }],
    ["no iss", { iss: undefined }],
    ["no aud", { aud: undefined }],
    ["an exp in the past", { exp: nowSeconds() - 60 }],
    ["an exp just past the clock tolerance", { exp: nowSeconds() - 10 }],
    ["an nbf an hour away", { nbf: nowSeconds() + 3600 }],
    ["an iat an hour away", { iat: nowSeconds() + 3600, exp: nowSeconds() + 3900 }],
    ["an exp in the year 3000", { exp: 32_503_680_000 }],
    ["exp as a string", { exp: String(nowSeconds() + 300) }],
    ["exp null", { exp: null }],
    ["exp true", { exp: true }],
    ["iat as a string", { iat: String(nowSeconds()) }],
    ["nbf as a string", { nbf: String(nowSeconds() - 10) }],
    ["a wrong iss", { iss: "https://evil.test" }],
    ["an iss with a trailing slash", { iss: `${ISSUER}/` }],
    ["a wrong aud", { aud: "another-api" }],
    ["an aud list without ours", { aud: ["another-api", "third-api"] }],
    ["an empty aud list", { aud: [] }],
    ["sub a number", { sub: 42 }],
    ["sub empty", { sub: "" }],
    ["sub an object", { sub: { id: "user-admin" } }],
    ["sub longer than 256 characters", { sub: "u".repeat(257) }],
    ["scope a list", { scope: ["read", "admin"] }],
    ["scope with a control character", { scope: "read\u0000admin" }],
    ["roles a string", { roles: "admin" }],
    ["roles holding a non-string", { roles: ["member", 7] }],
    ["jti a number", { jti: 7 }],
    ["sid a number", { sid: 7 }],
    ["auth_time a string", { auth_time: "0" }],
  ])("refuses a gateway-signed token with %s", async (_name, overrides) => {
    await refusedAsBearer(await gatewaySigned({}, overrides));
  });

  it.each([
    ["typ JWT (not an access token)", { typ: "JWT" }],
    ["no typ", { typ: undefined }],
    ["typ of an ID token's cousin", { typ: "id_token+jwt" }],
  ])("refuses a gateway-signed token with %s", async (_name, header) => {
    await refusedAsBearer(await gatewaySigned(header));
  });

  it("refuses an exp that JSON turns into Infinity (1e400)", async () => {
    const payload = JSON.stringify(claims()).replace(/"exp":\d+/, '"exp":1e400');
    expect(payload).toContain("1e400");
    await refusedAsBearer(await compactRaw(segment(edHeader()), segment(payload), gatewayKey));
  });

  it("refuses an iat that JSON turns into -Infinity (-1e400)", async () => {
    const payload = JSON.stringify(claims()).replace(/"iat":\d+/, '"iat":-1e400');
    await refusedAsBearer(await compactRaw(segment(edHeader()), segment(payload), gatewayKey));
  });
});

describe("duplicate JSON member names (parser differentials)", () => {
  it("refuses a header that names alg twice", async () => {
    const header = `{"alg":"none","typ":"at+jwt","kid":"${ED25519_KID}","alg":"EdDSA"}`;
    await refusedAsBearer(await compactRaw(segment(header), segment(claims()), gatewayKey));
  });

  it("refuses claims that name sub twice", async () => {
    const payload = JSON.stringify(claims()).replace(/^\{/, '{"sub":"user-admin",');
    await refusedAsBearer(await compactRaw(segment(edHeader()), segment(payload), gatewayKey));
  });

  it("refuses claims that name exp twice", async () => {
    const payload = JSON.stringify(claims()).replace(/^\{/, `{"exp":${nowSeconds() - 3600},`);
    await refusedAsBearer(await compactRaw(segment(edHeader()), segment(payload), gatewayKey));
  });
});

describe("claims that cannot travel to the upstream as they are", () => {
  it.each([
    ["a sub with a line break", { sub: "user-admin\r\nX-Auth-Roles: operator" }],
    ["a sub with a trailing newline", { sub: "user-admin\n" }],
    ["a sub with a leading space", { sub: " user-admin" }],
    ["a sub with a NUL", { sub: "user-admin\u0000" }],
    ["a sub outside Latin-1", { sub: "user-\u7528\u6237" }],
    ["a sid with a line break", { sid: "AAAA\nBBBB" }],
    ["a role containing a space", { roles: ["member admin"] }],
    ["a role with a line break", { roles: ["member\r\nX-Evil: 1"] }],
  ])("refuses a gateway-signed token with %s", async (_name, overrides) => {
    await refusedAsBearer(await gatewaySigned({}, overrides));
  });
});

describe("HS256 with ACCESS_SECRET", () => {
  it("refuses an HS256 token signed with a different secret", async () => {
    const token = await compact({ alg: "HS256" }, hsClaims(), hmac("another-secret-0123456789abcdef-0000"));
    await refusedAsBearer(token);
  });

  it("refuses an HS256 token signed with ACCESS_SECRET but without iss", async () => {
    const token = await compact({ alg: "HS256" }, hsClaims({ iss: undefined }), hmac(TEST_SECRETS.ACCESS_SECRET));
    await refusedAsBearer(token);
  });

  it("refuses an HS256 token signed with ACCESS_SECRET but for another audience", async () => {
    const token = await compact({ alg: "HS256" }, hsClaims({ aud: "another-api" }), hmac(TEST_SECRETS.ACCESS_SECRET));
    await refusedAsBearer(token);
  });

  it("refuses an expired HS256 token signed with ACCESS_SECRET", async () => {
    const iat = nowSeconds() - 600;
    const token = await compact({ alg: "HS256" }, hsClaims({ iat, exp: iat + 300 }), hmac(TEST_SECRETS.ACCESS_SECRET));
    await refusedAsBearer(token);
  });

  it("refuses an HS512 token signed with ACCESS_SECRET", async () => {
    const token = await compact({ alg: "HS512" }, hsClaims(), hmac(TEST_SECRETS.ACCESS_SECRET, "sha512"));
    await refusedAsBearer(token);
  });

  it("refuses an HS256 token signed with ACCESS_SECRET with its signature truncated to 16 bytes", async () => {
    const token = await compact({ alg: "HS256" }, hsClaims(), hmac(TEST_SECRETS.ACCESS_SECRET));
    const [header, payload, signature] = parts(token);
    const short = Buffer.from(signature, "base64url").subarray(0, 16).toString("base64url");
    await refusedAsBearer(`${header}.${payload}.${short}`);
  });
});

describe("a token in two places (RFC 6750 §3.1)", () => {
  it("answers 400 invalid_request to two Authorization headers", async () => {
    const first = await mintToken(gateway.key);
    const second = await mintToken(gateway.key);
    const headers = new Headers();
    headers.append("authorization", `Bearer ${first}`);
    headers.append("authorization", `Bearer ${second}`);
    await expectRefused(headers, [first, second], INVALID_REQUEST);
  });

  it("answers 400 invalid_request to a token in both the header and the cookie", async () => {
    const token = await mintToken(gateway.key);
    await expectRefused(
      { authorization: `Bearer ${token}`, cookie: `__Host-portcullis-access=${token}` },
      [token],
      INVALID_REQUEST,
    );
  });

  it("answers 400 invalid_request to a valid header token next to a hostile cookie token", async () => {
    const token = await mintToken(gateway.key);
    const hostile = `${segment({ alg: "none" })}.${segment(claims())}.`;
    await expectRefused(
      { authorization: `Bearer ${token}`, cookie: `theme=dark; __Host-portcullis-access=${hostile}` },
      [token, hostile],
      INVALID_REQUEST,
    );
  });

  it("answers 400 invalid_request to two access cookies", async () => {
    const first = await mintToken(gateway.key);
    const second = await mintToken(gateway.key);
    await expectRefused(
      { cookie: `__Host-portcullis-access=${first}; __Host-portcullis-access=${second}` },
      [first, second],
      INVALID_REQUEST,
    );
  });
});
