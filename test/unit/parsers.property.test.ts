/**
 * Property-based tests for the parsers that read attacker-controlled input: cookies, the
 * Bearer header, auth endpoint bodies and the token's compact shape. Each parser may only
 * ever refuse with a GatewayError (never a crash that would surface as a 500), and what it
 * accepts must have exactly the shape its RFC allows.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { GatewayError, type GatewayErrorCode } from "../../src/errors/gateway-error";
import { ACCESS_COOKIE, cookieValues, REFRESH_COOKIE, withoutGatewayCookies } from "../../src/http/cookies";
import { type BodyKind, MAX_AUTH_BODY_BYTES, readFields } from "../../src/http/read-body";
import { bearerToken, MAX_PARSED_BEARERS, MAX_REMEMBERED_LENGTH } from "../../src/tokens/read-credentials";
import { hasDuplicateMembers, inspectToken, MAX_TOKEN_LENGTH } from "../../src/tokens/verify-access-token";

const RUNS = { numRuns: 300 } as const;
const GATEWAY_COOKIES = [ACCESS_COOKIE, REFRESH_COOKIE] as const;
/** RFC 6750 §2.1 b64token, the whole of it. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** Run `parse`; a GatewayError is a refusal and is returned, anything else thrown fails the property. */
function refusalOr<T>(parse: () => T): T | GatewayError {
  try {
    return parse();
  } catch (error) {
    if (error instanceof GatewayError) return error;
    throw error;
  }
}

async function refusalOrAsync<T>(parse: () => Promise<T>): Promise<T | GatewayError> {
  try {
    return await parse();
  } catch (error) {
    if (error instanceof GatewayError) return error;
    throw error;
  }
}

function codeOf(value: unknown): GatewayErrorCode | undefined {
  return value instanceof GatewayError ? value.code : undefined;
}

function chars(alphabet: string): fc.Arbitrary<string> {
  return fc.constantFrom(...alphabet.split(""));
}

function stringOf(alphabet: string, constraints: fc.ArrayConstraints = {}): fc.Arbitrary<string> {
  return fc.array(chars(alphabet), constraints).map((list) => list.join(""));
}

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const BASE64URL = `${ALNUM}-_`;
const B64TOKEN_CHARS = `${ALNUM}-._~+/`;
const PRINTABLE = Array.from({ length: 0x7f - 0x20 }, (_, index) => String.fromCharCode(0x20 + index)).join("");
/** RFC 6265 cookie-name (an RFC 7230 token) and cookie-octet. */
const COOKIE_NAME_CHARS = `${ALNUM}!#$%&'*+-.^_\`|~`;
const COOKIE_VALUE_CHARS = PRINTABLE.replace(/[ ",;\\]/g, "");

/** `name` with each letter's case chosen at random. */
function anyCase(name: string): fc.Arbitrary<string> {
  return fc
    .array(fc.boolean(), { minLength: name.length, maxLength: name.length })
    .map((upper) => [...name].map((char, index) => (upper[index] ? char.toUpperCase() : char.toLowerCase())).join(""));
}

const optionalSpace = stringOf(" \t", { maxLength: 2 });
const cookieName = stringOf(COOKIE_NAME_CHARS, { minLength: 1, maxLength: 12 }).filter(
  (name) => !GATEWAY_COOKIES.some((gateway) => gateway.toLowerCase() === name.toLowerCase()),
);
const cookieValue = stringOf(COOKIE_VALUE_CHARS, { maxLength: 16 });
const otherCookie = fc.record({ name: cookieName, value: cookieValue });
const gatewayCookie = fc.record({
  name: fc.constantFrom(...GATEWAY_COOKIES).chain(anyCase),
  value: cookieValue,
});
const padded = (pair: string) => fc.tuple(optionalSpace, optionalSpace).map(([before, after]) => before + pair + after);

/** Cookie headers mixing ordinary cookies and gateway cookies in any case, with the ordinary ones remembered. */
const mixedCookieHeader = fc
  .array(
    fc.oneof(
      otherCookie.map((cookie) => ({ ...cookie, gateway: false })),
      gatewayCookie.map((cookie) => ({ ...cookie, gateway: true })),
    ),
    {
      maxLength: 10,
    },
  )
  .chain((cookies) =>
    fc
      .tuple(...cookies.map((cookie) => padded(`${cookie.name}=${cookie.value}`)))
      .map((pairs) => ({ header: pairs.join(";"), others: cookies.filter((cookie) => !cookie.gateway) })),
  );

/** Arbitrary text built from the pieces a cookie parser cares about. */
const cookieGarbage = fc
  .array(
    fc.oneof(
      fc.constantFrom(";", "=", " ", "\t", '"', ",", ...GATEWAY_COOKIES),
      fc.constantFrom(...GATEWAY_COOKIES).chain(anyCase),
      fc.string({ maxLength: 6 }),
    ),
    { maxLength: 16 },
  )
  .map((pieces) => pieces.join(""));

function isGatewayCookieName(pair: string): boolean {
  const eq = pair.indexOf("=");
  const name = (eq === -1 ? pair : pair.slice(0, eq)).trim().toLowerCase();
  return GATEWAY_COOKIES.some((gateway) => gateway.toLowerCase() === name);
}

describe("cookieValues", () => {
  it("never throws, for any header", () => {
    fc.assert(
      fc.property(fc.option(cookieGarbage, { nil: null }), fc.constantFrom(...GATEWAY_COOKIES), (header, name) => {
        const values = cookieValues(header, name);
        expect(Array.isArray(values)).toBe(true);
        for (const value of values) expect(typeof value).toBe("string");
      }),
      RUNS,
    );
  });

  it("returns every value sent under exactly that name, in order", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(otherCookie, gatewayCookie), { maxLength: 10 }), (cookies) => {
        const header = cookies.map((cookie) => `${cookie.name}=${cookie.value}`).join("; ");
        for (const name of [ACCESS_COOKIE, ...cookies.map((cookie) => cookie.name)]) {
          const expected = cookies.filter((cookie) => cookie.name === name).map((cookie) => cookie.value);
          expect(cookieValues(header, name)).toEqual(expected);
        }
      }),
      RUNS,
    );
  });
});

describe("withoutGatewayCookies", () => {
  it("never passes on a gateway cookie, in any letter case, and keeps every other cookie in order", () => {
    fc.assert(
      fc.property(mixedCookieHeader, ({ header, others }) => {
        const kept = withoutGatewayCookies(header);
        const expected = others.map((cookie) => `${cookie.name}=${cookie.value}`);
        if (expected.length === 0) expect(kept).toBeUndefined();
        else expect(kept).toBe(expected.join("; "));
      }),
      RUNS,
    );
  });

  it("leaves no gateway cookie behind in any text at all", () => {
    fc.assert(
      fc.property(fc.option(cookieGarbage, { nil: null }), (header) => {
        const kept = withoutGatewayCookies(header);
        if (kept === undefined) return;
        expect(kept).not.toBe("");
        for (const pair of kept.split(";")) expect(isGatewayCookieName(pair)).toBe(false);
        for (const name of GATEWAY_COOKIES) expect(cookieValues(kept, name)).toEqual([]);
      }),
      RUNS,
    );
  });

  it("is idempotent", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          cookieGarbage,
          mixedCookieHeader.map(({ header }) => header),
        ),
        (header) => {
          const once = withoutGatewayCookies(header);
          expect(withoutGatewayCookies(once ?? null)).toBe(once);
        },
      ),
      RUNS,
    );
  });
});

const b64token = fc
  .tuple(stringOf(B64TOKEN_CHARS, { minLength: 1, maxLength: 80 }), stringOf("=", { maxLength: 3 }))
  .map(([body, padding]) => body + padding);
/** Anything printable without spaces or commas: b64tokens and near misses. */
const credentialCandidate = fc.oneof(
  b64token,
  stringOf(PRINTABLE.replace(/[ ,]/g, ""), { minLength: 1, maxLength: 40 }),
  fc.tuple(b64token, chars(PRINTABLE.replace(/[ ,]/g, "")), b64token).map((pieces) => pieces.join("")),
);

describe("bearerToken", () => {
  it("never throws anything but a GatewayError", () => {
    fc.assert(
      fc.property(
        fc.option(fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: "grapheme", maxLength: 60 })), {
          nil: null,
        }),
        (header) => {
          const result = refusalOr(() => bearerToken(header));
          if (typeof result === "string") expect(result).toMatch(B64TOKEN);
        },
      ),
      RUNS,
    );
  });

  it("accepts exactly an RFC 6750 b64token after the scheme, in any case, with any number of spaces", () => {
    fc.assert(
      fc.property(
        anyCase("Bearer"),
        stringOf(" ", { minLength: 1, maxLength: 3 }),
        credentialCandidate,
        (scheme, spaces, credential) => {
          const result = refusalOr(() => bearerToken(`${scheme}${spaces}${credential}`));
          if (B64TOKEN.test(credential)) expect(result).toBe(credential);
          else expect(codeOf(result)).toBe("token_malformed");
        },
      ),
      RUNS,
    );
  });

  it("refuses a Bearer header with no token, or separated by anything but spaces", () => {
    fc.assert(
      fc.property(anyCase("Bearer"), fc.constantFrom("", " ", "\t", "  \t"), b64token, (scheme, separator, token) => {
        expect(codeOf(refusalOr(() => bearerToken(`${scheme}${separator}`)))).toBe("token_malformed");
        if (separator.includes("\t")) {
          expect(codeOf(refusalOr(() => bearerToken(`${scheme}${separator}${token}`)))).toBe("token_malformed");
        }
      }),
      RUNS,
    );
  });

  it("refuses any header that holds more than one value (two Authorization headers)", () => {
    fc.assert(
      fc.property(b64token, b64token, (first, second) => {
        expect(codeOf(refusalOr(() => bearerToken(`Bearer ${first}, Bearer ${second}`)))).toBe("token_ambiguous");
      }),
      RUNS,
    );
  });

  it("answers a value seen before exactly as it did the first time (its parse is remembered)", () => {
    const header = fc.oneof(
      fc
        .tuple(anyCase("Bearer"), stringOf(" ", { minLength: 0, maxLength: 2 }), credentialCandidate)
        .map((parts) => parts.join("")),
      fc.string({ maxLength: 80 }),
    );
    fc.assert(
      fc.property(header, (value) => {
        const first = refusalOr(() => bearerToken(value));
        const again = refusalOr(() => bearerToken(value));
        if (typeof first === "string" || first === undefined) expect(again).toBe(first);
        else expect(codeOf(again)).toBe(codeOf(first));
      }),
      RUNS,
    );
  });

  it("still parses every value once more than MAX_PARSED_BEARERS were seen", () => {
    const tokens = Array.from({ length: MAX_PARSED_BEARERS + 10 }, (_, index) => `t${index}.x`);
    for (const token of tokens) expect(bearerToken(`Bearer ${token}`)).toBe(token);
    for (const token of tokens) expect(bearerToken(`Bearer ${token}`)).toBe(token);
    expect(codeOf(refusalOr(() => bearerToken("Bearer a b")))).toBe("token_malformed");
  });

  it("parses a value longer than it remembers (MAX_REMEMBERED_LENGTH) every time alike", () => {
    const long = `x.${"y".repeat(MAX_REMEMBERED_LENGTH)}`;
    expect(bearerToken(`Bearer ${long}`)).toBe(long);
    expect(bearerToken(`Bearer ${long}`)).toBe(long);
    expect(codeOf(refusalOr(() => bearerToken(`Bearer ${long}!`)))).toBe("token_malformed");
  });

  it("ignores other authentication schemes", () => {
    const otherScheme = stringOf(ALNUM, { minLength: 1, maxLength: 10 }).filter((scheme) => !/^bearer/i.test(scheme));
    fc.assert(
      fc.property(otherScheme, b64token, (scheme, credential) => {
        expect(bearerToken(`${scheme} ${credential}`)).toBeUndefined();
      }),
      RUNS,
    );
  });
});

const CONTENT_TYPES = [
  "application/json",
  "application/json; charset=utf-8",
  "APPLICATION/JSON",
  "application/x-www-form-urlencoded",
  "Application/X-WWW-Form-Urlencoded;charset=UTF-8",
  "text/plain",
  "multipart/form-data; boundary=x",
  "application/json, text/plain",
  ";",
  "",
];
const ALL_KINDS: readonly BodyKind[] = ["json", "form", "empty"];

function postRequest(body: Uint8Array | string | null, contentType: string | undefined): Request {
  const headers = new Headers();
  if (contentType !== undefined) headers.set("content-type", contentType);
  const payload = body instanceof Uint8Array ? new Uint8Array(body) : body;
  return new Request("https://gateway.test/auth/login", { method: "POST", headers, body: payload });
}

const contentType = fc.option(fc.oneof(fc.constantFrom(...CONTENT_TYPES), stringOf(PRINTABLE, { maxLength: 40 })), {
  nil: undefined,
});
const allowedKinds = fc.subarray([...ALL_KINDS], { minLength: 1 });
const bodyBytes = fc.oneof(
  fc.uint8Array({ maxLength: 256 }),
  fc.json({ maxDepth: 3 }).map((text) => new TextEncoder().encode(text)),
  fc
    .array(fc.tuple(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 })), { maxLength: 8 })
    .map((pairs) => new TextEncoder().encode(new URLSearchParams(pairs).toString())),
  fc
    .integer({ min: MAX_AUTH_BODY_BYTES - 2, max: MAX_AUTH_BODY_BYTES + 2 })
    .map((size) => new Uint8Array(size).fill(0x61)),
);

describe("readFields", () => {
  it("never throws anything but a GatewayError, for any bytes and content type", async () => {
    await fc.assert(
      fc.asyncProperty(bodyBytes, contentType, allowedKinds, async (bytes, type, allowed) => {
        const result = await refusalOrAsync(() => readFields(postRequest(bytes, type), allowed));
        if (result instanceof GatewayError) {
          expect(result.code).toMatch(/^(request_invalid|payload_too_large|unsupported_media_type)$/);
          return;
        }
        for (const [name, value] of Object.entries(result)) {
          expect(typeof name).toBe("string");
          expect(typeof value).toBe("string");
        }
      }),
      RUNS,
    );
  });

  it("refuses bodies over the cap, whatever they hold", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: MAX_AUTH_BODY_BYTES + 1, max: MAX_AUTH_BODY_BYTES * 4 }),
        fc.constantFrom("application/json", "application/x-www-form-urlencoded"),
        async (size, type) => {
          const result = await refusalOrAsync(() =>
            readFields(postRequest(new Uint8Array(size), type), ["json", "form"]),
          );
          expect(codeOf(result)).toBe("payload_too_large");
        },
      ),
      { numRuns: 50 },
    );
  });

  const formName = fc.string({ minLength: 1, maxLength: 10 });
  const formPairs = fc.uniqueArray(fc.tuple(formName, fc.string({ maxLength: 20 })), {
    selector: ([name]) => name,
    maxLength: 8,
  });

  it("reads a form body of distinct parameters exactly", async () => {
    await fc.assert(
      fc.asyncProperty(formPairs, async (pairs) => {
        const body = new URLSearchParams(pairs).toString();
        const fields = await readFields(postRequest(body, "application/x-www-form-urlencoded"), ["form"]);
        expect({ ...fields }).toEqual(Object.fromEntries(pairs));
      }),
      RUNS,
    );
  });

  it("refuses a form body that repeats a parameter (RFC 6749 §3.1)", async () => {
    await fc.assert(
      fc.asyncProperty(
        formPairs.filter((pairs) => pairs.length > 0),
        fc.nat(),
        fc.nat(),
        fc.string({ maxLength: 20 }),
        async (pairs, pick, at, value) => {
          const [name] = pairs[pick % pairs.length] as [string, string];
          const repeated: [string, string][] = [...pairs];
          repeated.splice(at % (repeated.length + 1), 0, [name, value]);
          const body = new URLSearchParams(repeated).toString();
          const result = await refusalOrAsync(() =>
            readFields(postRequest(body, "application/x-www-form-urlencoded"), ["form"]),
          );
          expect(codeOf(result)).toBe("request_invalid");
        },
      ),
      RUNS,
    );
  });

  it("reads a JSON object of strings exactly, and refuses one with any other value", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(fc.string({ maxLength: 10 }), fc.string({ maxLength: 20 }), { maxKeys: 8 }),
        fc.option(
          fc.tuple(
            fc.string({ maxLength: 10 }),
            fc.jsonValue().filter((value) => typeof value !== "string"),
          ),
          {
            nil: undefined,
          },
        ),
        async (strings, intruder) => {
          const object: Record<string, unknown> = { ...strings };
          // defineProperty, so that an intruder named "__proto__" becomes a real member.
          if (intruder !== undefined) {
            Object.defineProperty(object, intruder[0], { value: intruder[1], enumerable: true, configurable: true });
          }
          const result = await refusalOrAsync(() =>
            readFields(postRequest(JSON.stringify(object), "application/json"), ["json"]),
          );
          if (intruder === undefined) expect({ ...(result as Record<string, string>) }).toEqual(strings);
          else expect(codeOf(result)).toBe("request_invalid");
        },
      ),
      RUNS,
    );
  });

  it("refuses a JSON body that is not an object", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.jsonValue().filter((value) => typeof value !== "object" || value === null || Array.isArray(value)),
        async (value) => {
          const result = await refusalOrAsync(() =>
            readFields(postRequest(JSON.stringify(value), "application/json"), ["json"]),
          );
          expect(codeOf(result)).toBe("request_invalid");
        },
      ),
      RUNS,
    );
  });

  it("refuses a body whose content type the endpoint does not take", async () => {
    await fc.assert(
      fc.asyncProperty(bodyBytes, async (bytes) => {
        const result = await refusalOrAsync(() =>
          readFields(postRequest(bytes, "application/json"), ["form", "empty"]),
        );
        expect(codeOf(result)).toBe("unsupported_media_type");
      }),
      { numRuns: 100 },
    );
  });
});

const base64urlSegment = stringOf(BASE64URL, { minLength: 1, maxLength: 60 });
const encode = (text: string) => Buffer.from(text, "utf8").toString("base64url");
/** A header object that is sometimes almost right. */
const headerObject = fc.record(
  {
    alg: fc.oneof(fc.constantFrom("EdDSA", "ES256", "HS256", "RS256", "none", "NONE", "nOnE"), fc.jsonValue()),
    typ: fc.oneof(fc.constant("at+jwt"), fc.jsonValue()),
    kid: fc.oneof(fc.string({ maxLength: 300 }), fc.jsonValue()),
    crit: fc.array(fc.string({ maxLength: 8 }), { maxLength: 2 }),
    jku: fc.webUrl(),
    jwk: fc.object({ maxDepth: 1 }),
    b64: fc.boolean(),
    enc: fc.constant("A256GCM"),
  },
  { requiredKeys: [] },
);
/** Headers inspectToken must let through (no forbidden parameter, a real algorithm). */
const plausibleHeader = fc.record(
  {
    alg: fc.constantFrom("EdDSA", "ES256", "HS256", "RS256"),
    typ: fc.constantFrom("at+jwt", "JWT"),
    kid: fc.string({ maxLength: 40 }),
    cty: fc.string({ maxLength: 8 }),
  },
  { requiredKeys: ["alg"] },
);
const plausibleToken = fc
  .tuple(plausibleHeader, fc.object({ maxDepth: 2 }), base64urlSegment)
  .map(([header, payload, signature]) => ({
    header,
    token: [encode(JSON.stringify(header)), encode(JSON.stringify(payload)), signature].join("."),
  }));
const tokenLike = fc.oneof(
  plausibleToken.map(({ token }) => token),
  fc.string({ maxLength: 200 }),
  fc.string({ unit: "binary", maxLength: 100 }),
  fc.tuple(base64urlSegment, base64urlSegment, base64urlSegment).map((segments) => segments.join(".")),
  fc
    .tuple(fc.oneof(headerObject, fc.jsonValue()), fc.oneof(fc.jsonValue(), fc.string()), base64urlSegment)
    .map(([header, payload, signature]) =>
      [encode(JSON.stringify(header) ?? "null"), encode(JSON.stringify(payload) ?? "null"), signature].join("."),
    ),
  fc
    .tuple(headerObject, fc.constantFrom(".", "..", "...", "", "=", " ", "+"), base64urlSegment)
    .map(([header, glue, tail]) => `${encode(JSON.stringify(header))}${glue}${tail}`),
  fc.integer({ min: MAX_TOKEN_LENGTH - 2, max: MAX_TOKEN_LENGTH + 2 }).map((length) => {
    const header = encode(JSON.stringify({ alg: "EdDSA" }));
    return `${header}.${"a".repeat(Math.max(1, length - header.length - 3))}.a`;
  }),
);

describe("inspectToken", () => {
  it("refuses only with a GatewayError, and whatever it lets through is a sane compact JWS", () => {
    fc.assert(
      fc.property(tokenLike, (token) => {
        const result = refusalOr(() => inspectToken(token));
        if (result instanceof GatewayError) {
          expect(result.code).toMatch(/^(token_malformed|token_invalid)$/);
          return;
        }
        expect(token.length).toBeLessThanOrEqual(MAX_TOKEN_LENGTH);
        expect(token).toMatch(COMPACT_JWS);
        expect(typeof result.alg).toBe("string");
        expect(result.alg?.toLowerCase()).not.toBe("none");
        for (const forbidden of ["jwk", "jku", "x5u", "x5c", "crit", "b64", "zip", "enc"]) {
          expect(Object.hasOwn(result, forbidden)).toBe(false);
        }
        if (result.kid !== undefined) expect(typeof result.kid).toBe("string");
        const [protectedHeader = ""] = token.split(".");
        expect(result).toEqual(JSON.parse(Buffer.from(protectedHeader, "base64url").toString("utf8")));
      }),
      { numRuns: 500 },
    );
  });

  it("lets a well-shaped token through with its header as written", () => {
    fc.assert(
      fc.property(plausibleToken, ({ header, token }) => {
        fc.pre(token.length <= MAX_TOKEN_LENGTH);
        expect(inspectToken(token)).toEqual(header);
      }),
      RUNS,
    );
  });

  it("refuses anything longer than the cap or outside the base64url alphabet as malformed", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 100 }), fc.boolean(), (text, long) => {
        const token = long ? `${encode('{"alg":"EdDSA"}')}.${"a".repeat(MAX_TOKEN_LENGTH)}.${encode(text)}` : text;
        fc.pre(long || !COMPACT_JWS.test(token));
        expect(codeOf(refusalOr(() => inspectToken(token)))).toBe("token_malformed");
      }),
      RUNS,
    );
  });
});

describe("hasDuplicateMembers", () => {
  it("finds none in anything JSON.stringify wrote", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(hasDuplicateMembers(JSON.stringify(value))).toBe(false);
      }),
      RUNS,
    );
  });

  it("finds a member named twice at any depth, however its name is escaped", () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), { minKeys: 1, maxKeys: 5 }),
        fc.nat(),
        fc.jsonValue({ maxDepth: 1 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 2 }),
        (object, pick, value, escapeName, depth) => {
          const names = Object.keys(object);
          const name = names[pick % names.length] as string;
          const quoted = escapeName
            ? `"${[...name].map((char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`).join("")}"`
            : JSON.stringify(name);
          let text = `{${quoted}:${JSON.stringify(value)},${JSON.stringify(object).slice(1)}`;
          for (let level = 0; level < depth; level++) text = `{"outer":[1,{"x":${text}}],"y":"}"}`;
          expect(hasDuplicateMembers(text)).toBe(true);
        },
      ),
      RUNS,
    );
  });

  it("never throws, for any text", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        expect(typeof hasDuplicateMembers(text)).toBe("boolean");
      }),
      RUNS,
    );
  });
});

describe("regressions found by review", () => {
  it("ignores another scheme whose credential contains commas (Digest)", () => {
    expect(bearerToken('Digest username="a", realm="b", nonce="c"')).toBeUndefined();
  });

  it("still refuses a Bearer credential joined with another", () => {
    expect(() => bearerToken("Basic abc, Bearer xyz")).toThrow(GatewayError);
  });

  it("strips a gateway cookie hidden after a comma inside another pair", () => {
    expect(withoutGatewayCookies("a=1, __Host-portcullis-refresh=secret; b=2")).toBe("b=2");
  });
});
