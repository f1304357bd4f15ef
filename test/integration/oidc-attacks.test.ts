/**
 * Attacks on the OIDC login, each answered with a 4xx that starts no session (no refresh
 * cookie, no Durable Object) against the real test IdP: state, replayed code, code
 * injection (verifier mismatch), mix-up, tampered ID tokens (nonce, audience, issuer,
 * alg none, a key that is not the IdP's), expired or forged transactions, open redirects
 * through return_to, the bound on pending logins, and an http: issuer in production.
 */
import { generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seal, unseal } from "../../src/oidc/sealing";
import { startGateway } from "../support/gateway";
import { type OidcSetup, rawRequest, startOidcGateway, TEST_SEALING_SECRET } from "../support/oidc-gateway";
import { continuesTo, gatewayCookieHeader, loginThroughIdp, newJar } from "../support/oidc-login";
import { REFRESH_COOKIE, setCookie } from "../support/session-helpers";
import { decodeClaims } from "../support/tokens";

let setup: OidcSetup;

beforeAll(async () => {
  setup = await startOidcGateway();
});
afterAll(() => setup.close());

/** A login stopped just before the callback: its callback URL and the browser's cookies then. */
async function pendingLogin(login = "mallory") {
  const started = await loginThroughIdp(setup.gateway.url, { login, stopAtCallback: true });
  return { callbackUrl: started.callbackUrl, cookie: await gatewayCookieHeader(started.jar, setup.gateway.url) };
}

async function callback(url: URL | string, cookie: string, headers: Record<string, string> = {}) {
  const response = await setup.gateway.fetch(`${new URL(url).pathname}${new URL(url).search}`, {
    headers: { cookie, ...headers },
  });
  const body = await response.text();
  return { response, body };
}

/** Where a callback's answer sends the browser on (continuesTo, with the body callback() read). */
function landedAt(answer: { response: Response; body: string }): Promise<string | undefined> {
  return continuesTo(answer.response, answer.body);
}

function expectRefusedWithoutSession(response: Response, status = 400): void {
  expect(response.status).toBe(status);
  expect(setCookie(response, REFRESH_COOKIE)).toBeUndefined();
  expect(response.headers.get("content-type")).toContain("application/problem+json");
}

describe("the callback refuses", () => {
  it("a missing or wrong state, before anything reaches the IdP", async () => {
    const { callbackUrl, cookie } = await pendingLogin();
    const codeGrants = setup.idp.countTokenRequests("authorization_code");
    const missing = new URL(callbackUrl);
    missing.searchParams.delete("state");
    expectRefusedWithoutSession((await callback(missing, cookie)).response);
    const wrong = new URL(callbackUrl);
    wrong.searchParams.set("state", "A".repeat(43));
    expectRefusedWithoutSession((await callback(wrong, cookie)).response);
    const noCookie = await callback(callbackUrl, "");
    expectRefusedWithoutSession(noCookie.response);
    expect(setup.idp.countTokenRequests("authorization_code")).toBe(codeGrants);
    // The login itself still completes: nothing was changed by the refusals.
    expect(await landedAt(await callback(callbackUrl, cookie))).toBe("/");
  });

  it("a replayed callback (code and state), without asking the IdP again", async () => {
    const { callbackUrl, cookie } = await pendingLogin();
    expect(await landedAt(await callback(callbackUrl, cookie))).toBe("/");
    const codeGrants = setup.idp.countTokenRequests("authorization_code");
    expectRefusedWithoutSession((await callback(callbackUrl, cookie)).response);
    expect(setup.idp.countTokenRequests("authorization_code")).toBe(codeGrants);
  });

  it("a code from another login (the PKCE verifier does not match)", async () => {
    const victim = await pendingLogin("victim");
    const attacker = await pendingLogin("attacker");
    const injected = new URL(attacker.callbackUrl);
    injected.searchParams.set("code", victim.callbackUrl.searchParams.get("code") ?? "");
    const { response } = await callback(injected, attacker.cookie);
    expectRefusedWithoutSession(response);
    expect(setup.idp.tokenRequests.at(-1)).toMatchObject({ grantType: "authorization_code", error: "invalid_grant" });
  });

  it("a response that names another issuer (mix-up)", async () => {
    const { callbackUrl, cookie } = await pendingLogin();
    const mixedUp = new URL(callbackUrl);
    mixedUp.searchParams.set("iss", "https://evil.example");
    expectRefusedWithoutSession((await callback(mixedUp, cookie)).response);
  });

  it("an expired transaction, and one sealed with another secret", async () => {
    const { callbackUrl, cookie } = await pendingLogin();
    const [name = "", value = ""] = (
      cookie.split("; ").find((pair) => pair.startsWith("__Host-portcullis-oidc-")) ?? ""
    ).split("=");
    const transaction = (await unseal(TEST_SEALING_SECRET, "login-transaction", name, value)) as Record<
      string,
      unknown
    >;
    expect(transaction.state).toBe(callbackUrl.searchParams.get("state"));
    const old = await seal(TEST_SEALING_SECRET, "login-transaction", name, {
      ...transaction,
      createdAt: Date.now() - 11 * 60_000,
    });
    expectRefusedWithoutSession((await callback(callbackUrl, cookie.replace(value, old))).response);
    const forged = await seal("another-secret-0123456789abcdef0123456789", "login-transaction", name, transaction);
    expectRefusedWithoutSession((await callback(callbackUrl, cookie.replace(value, forged))).response);
  });

  it("answers a navigation with a plain error page", async () => {
    const { callbackUrl } = await pendingLogin();
    const page = await rawRequest(`${setup.gateway.url}${callbackUrl.pathname}${callbackUrl.search}`, {
      headers: { "sec-fetch-mode": "navigate", accept: "text/html" },
    });
    expect(page.status).toBe(400);
    expect(page.headers["content-type"]).toContain("text/html");
    expect(page.body).not.toContain(callbackUrl.searchParams.get("code") ?? "-");
    expect(page.headers["set-cookie"] ?? []).not.toContainEqual(expect.stringContaining(REFRESH_COOKIE));
  });
});

describe("rotating OIDC_SEALING_SECRET", () => {
  it("completes a login whose transaction the previous secret sealed; the new secret seals new ones", async () => {
    const NEW_SECRET = "the-sealing-secret-after-the-rotation-0123";
    const rotated = await startOidcGateway({
      vars: { OIDC_SEALING_SECRET: NEW_SECRET, OIDC_SEALING_SECRET_PREVIOUS: TEST_SEALING_SECRET },
    });
    try {
      const started = await loginThroughIdp(rotated.gateway.url, { login: "rotating", stopAtCallback: true });
      const cookie = await gatewayCookieHeader(started.jar, rotated.gateway.url);
      const [name = "", value = ""] = (
        cookie.split("; ").find((pair) => pair.startsWith("__Host-portcullis-oidc-")) ?? ""
      ).split("=");
      // Sealed with the new secret, not the previous one.
      const transaction = await unseal(NEW_SECRET, "login-transaction", name, value);
      expect(transaction).toBeDefined();
      expect(await unseal(TEST_SEALING_SECRET, "login-transaction", name, value)).toBeUndefined();
      // The same login as it was sealed before the rotation.
      const before = await seal(TEST_SEALING_SECRET, "login-transaction", name, transaction);
      const { pathname, search } = started.callbackUrl;
      const response = await rotated.gateway.fetch(`${pathname}${search}`, {
        headers: { cookie: cookie.replace(value, before) },
      });
      expect(await continuesTo(response)).toBeDefined();
      expect(setCookie(response, REFRESH_COOKIE)).toBeDefined();
    } finally {
      await rotated.close();
    }
  });
});

describe("the callback while the provider is down", () => {
  for (const mode of ["refused", "503"] as const) {
    it(`answers 503, not a 400 that blames the client (${mode}), and a new login works once it is back`, async () => {
      const { callbackUrl, cookie } = await pendingLogin(`outage-${mode}`);
      await setup.idp.down(mode);
      let during: Awaited<ReturnType<typeof callback>>;
      try {
        during = await callback(callbackUrl, cookie);
      } finally {
        await setup.idp.up();
      }
      expectRefusedWithoutSession(during.response, 503);
      expect(JSON.parse(during.body).title).toMatch(/temporarily unavailable/);
      // The callback URL stays used (a replay never reaches the provider); logging in again works.
      expect((await callback(callbackUrl, cookie)).response.status).toBe(400);
      const again = await loginThroughIdp(setup.gateway.url, { login: `outage-${mode}` });
      expect(await continuesTo(again.response)).toBeDefined();
    });
  }
});

describe("the callback checks the ID token", () => {
  async function withTamperedIdToken(
    tamper: (claims: Record<string, unknown>, idToken: string) => Promise<string>,
  ): Promise<Response> {
    const { callbackUrl, cookie } = await pendingLogin();
    setup.idp.tamperTokenResponse = async (body) =>
      typeof body.id_token === "string"
        ? { ...body, id_token: await tamper(decodeClaims(body.id_token), body.id_token) }
        : body;
    try {
      return (await callback(callbackUrl, cookie)).response;
    } finally {
      setup.idp.tamperTokenResponse = undefined;
    }
  }

  it("accepts the same claims re-signed with the IdP's key (the tampering itself is sound)", async () => {
    const response = await withTamperedIdToken((claims) => setup.idp.sign(claims));
    expect(setCookie(response, REFRESH_COOKIE)).toBeDefined();
    expect(response.status).toBe(200); // the page that continues to return_to (SameSite=Strict)
  });

  it("refuses a wrong nonce", async () => {
    expectRefusedWithoutSession(await withTamperedIdToken((claims) => setup.idp.sign({ ...claims, nonce: "other" })));
  });

  it("refuses another audience", async () => {
    expectRefusedWithoutSession(
      await withTamperedIdToken((claims) =>
        setup.idp.sign({ ...claims, aud: "another-client", azp: "another-client" }),
      ),
    );
  });

  it("refuses another issuer", async () => {
    expectRefusedWithoutSession(
      await withTamperedIdToken((claims) => setup.idp.sign({ ...claims, iss: "https://evil.example" })),
    );
  });

  it("refuses an expired ID token", async () => {
    const past = Math.floor(Date.now() / 1000) - 7200;
    expectRefusedWithoutSession(
      await withTamperedIdToken((claims) => setup.idp.sign({ ...claims, iat: past, exp: past + 600 })),
    );
  });

  it('refuses alg "none"', async () => {
    expectRefusedWithoutSession(
      await withTamperedIdToken(async (claims) => {
        const header = Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url");
        return `${header}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.`;
      }),
    );
  });

  it("refuses a signature by a key that is not the IdP's (oauth4webapi alone would accept it)", async () => {
    const { privateKey } = await generateKeyPair("RS256");
    const kid = JSON.parse(Buffer.from((await setup.idp.sign({})).split(".")[0] ?? "", "base64url").toString()).kid;
    expect(kid).toBeTruthy();
    expectRefusedWithoutSession(
      await withTamperedIdToken((claims) =>
        new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid }).sign(privateKey),
      ),
    );
  });
});

describe("login start", () => {
  const refused = [
    "https://evil.example/",
    "http:evil.example",
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "%2F%2Fevil.example",
    "/%2F/evil.example",
    "/%5Cevil.example",
    "%5C%5Cevil.example",
    "/%09/evil.example",
    "/\t/evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "%6A%61vascript:alert(1)",
    "evil.example",
    "/%E0%A4%A", // malformed encoding
    // Each passes a check of its text and becomes "//host" or "/\\host" once parsed.
    "/.//evil.example/x",
    "/./\\evil.example/x",
    "/a/..//evil.example",
    "/%2e//evil.example",
    "/.%2E//evil.example",
    "/a/%2e%2e//evil.example",
    "/x/../\\evil.example",
    // No single reading: refused as a proxied path would be.
    "/orders;x/1",
    "/orders/%C0%AF",
  ];
  for (const value of refused) {
    it(`refuses return_to=${JSON.stringify(value)}`, async () => {
      const response = await setup.gateway.fetch(`/auth/oidc/login?return_to=${encodeURIComponent(value)}`);
      expect(response.status).toBe(400);
      expect(response.headers.get("location")).toBeNull();
      expect(response.headers.getSetCookie()).toEqual([]);
    });
  }

  it("accepts a same-origin path and returns to it", async () => {
    const login = await loginThroughIdp(setup.gateway.url, { returnTo: "/orders/1?x=%2F%2Fy#top" });
    expect(await continuesTo(login.response)).toBe("/orders/1?x=%2F%2Fy#top");
  });

  it("lets several tabs log in at once", async () => {
    const jar = newJar();
    // Three logins pending at once (the IdP's own pages are walked one after the other:
    // its interaction cookie is per browser, not per tab).
    const tabs = [];
    for (const returnTo of ["/a", "/b", "/c"]) {
      tabs.push(await loginThroughIdp(setup.gateway.url, { jar, returnTo, login: "tabby", stopAtCallback: true }));
    }
    const cookie = await gatewayCookieHeader(jar, setup.gateway.url);
    const answers = await Promise.all(tabs.map((tab) => callback(tab.callbackUrl, cookie)));
    expect(await Promise.all(answers.map(landedAt))).toEqual(["/a", "/b", "/c"]);
  });

  it("keeps at most 5 pending login cookies, however many logins start", async () => {
    const jar = newJar();
    const { jarFetch } = await import("../support/oidc-login");
    for (let index = 0; index < 30; index += 1) {
      const response = await jarFetch(jar, `${setup.gateway.url}/auth/oidc/login?return_to=/n${index}`);
      expect(response.status).toBe(302);
      await response.body?.cancel();
    }
    const cookie = await gatewayCookieHeader(jar, setup.gateway.url);
    expect(cookie.split("; ").filter((pair) => pair.startsWith("__Host-portcullis-oidc-"))).toHaveLength(5);
    expect(cookie.length).toBeLessThan(5 * 600);
  });
});

describe("configuration", () => {
  it("refuses an http: issuer in production mode", async () => {
    const gateway = await startGateway({
      vars: { ...setup.idp.gatewayVars(), OIDC_SEALING_SECRET: TEST_SEALING_SECRET, PORTCULLIS_ENV: "production" },
    });
    try {
      const response = await gateway.fetch("/health");
      expect(response.status).toBe(503);
      await gateway.waitForLog((line) => line.includes('"setting":"OIDC_ISSUER"'));
    } finally {
      await gateway.close();
    }
  });

  it("refuses, in production mode, the redirect URI derived from an http: origin, naming OIDC_REDIRECT_URI", async () => {
    // The issuer is never contacted: the redirect URI is settled before discovery.
    const gateway = await startGateway({
      vars: {
        PORTCULLIS_ENV: "production",
        OIDC_ISSUER: "https://idp.example.invalid",
        OIDC_CLIENT_ID: "portcullis",
        OIDC_CLIENT_SECRET: "a-client-secret-that-is-long-enough-0123",
        OIDC_SEALING_SECRET: TEST_SEALING_SECRET,
      },
    });
    try {
      expect((await gateway.fetch("/health")).status).toBe(200);
      const response = await gateway.fetch("/auth/oidc/login?return_to=/");
      expect(response.status).toBe(503);
      expect(response.headers.get("content-type")).toBe("application/problem+json");
      expect(response.headers.get("location")).toBeNull();
      await gateway.waitForLog(
        (line) => line.includes('"config_invalid"') && line.includes('"setting":"OIDC_REDIRECT_URI"'),
      );
    } finally {
      await gateway.close();
    }
  });

  it("answers 404 at the OIDC endpoints when OIDC is not configured", async () => {
    const gateway = await startGateway();
    try {
      expect((await gateway.fetch("/auth/oidc/login")).status).toBe(404);
      expect((await gateway.fetch("/auth/oidc/callback?code=x&state=y")).status).toBe(404);
    } finally {
      await gateway.close();
    }
  });
});
