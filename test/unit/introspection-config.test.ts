/**
 * A trusted issuer's `introspection`, checked at config time: its keys, the secret it
 * names (present, long enough, never one of the gateway's own settings), https in
 * production, and at most one issuer introspected.
 */
import { describe, expect, it } from "vitest";
import { INTROSPECTION_KEYS } from "../../src/config/parse-introspection";
import { issuerRefusal, parseWithIssuers } from "../support/issuer-config";

const SECRET = "an-introspection-secret-long-enough-012";

const OKTA = {
  id: "okta",
  issuer: "https://example.okta.com/oauth2/default",
  audience: "api://default",
  introspection: {
    url: "https://example.okta.com/oauth2/default/v1/introspect",
    client_id: "0oa1portcullis",
    client_secret_env: "INTROSPECTION_SECRET_OKTA",
  },
};

const WITH_SECRET = { INTROSPECTION_SECRET_OKTA: SECRET };
const parse = (issuers: unknown, env: Record<string, unknown> = {}) =>
  parseWithIssuers(issuers, { ...WITH_SECRET, ...env });
const refusal = (issuers: unknown, env: Record<string, unknown> = {}) =>
  issuerRefusal(issuers, { ...WITH_SECRET, ...env });

function withIntrospection(introspection: Record<string, unknown>) {
  return [{ ...OKTA, introspection: { ...OKTA.introspection, ...introspection } }];
}

describe("a trusted issuer's introspection", () => {
  it("reads the client secret from the secret it names, with the defaults, and needs no jwks_url", () => {
    const [okta] = parse([OKTA]).trustedIssuers;
    expect(okta?.jwksUrl).toBeUndefined();
    expect(okta?.introspection).toEqual({
      url: OKTA.introspection.url,
      allowInsecureRequests: false,
      clientId: "0oa1portcullis",
      clientSecret: SECRET,
      cacheSeconds: 300,
      negativeCacheSeconds: 10,
      timeoutMs: 3000,
    });
    expect(Object.isFrozen(okta?.introspection)).toBe(true);
  });

  it("takes cache_seconds and timeout_ms within bounds, and a jwks_url beside it", () => {
    const [okta] = parse([
      {
        ...OKTA,
        jwks_url: "https://example.okta.com/oauth2/default/v1/keys",
        introspection: { ...OKTA.introspection, cache_seconds: 0, timeout_ms: 100 },
      },
    ]).trustedIssuers;
    expect(okta?.jwksUrl).toBe("https://example.okta.com/oauth2/default/v1/keys");
    expect(okta?.introspection).toMatchObject({ cacheSeconds: 0, timeoutMs: 100 });
    expect(refusal(withIntrospection({ cache_seconds: 3601 }))).toMatch(
      /"introspection.cache_seconds" must be a whole number from 0 to 3600/,
    );
    expect(refusal(withIntrospection({ timeout_ms: 50 }))).toMatch(/"introspection.timeout_ms"/);
  });

  it("refuses a secret that is not set or too short, naming the secret and never its value", () => {
    expect(refusal([OKTA], { INTROSPECTION_SECRET_OKTA: undefined })).toBe(
      'TRUSTED_ISSUERS: issuer 0 (okta) "introspection.client_secret_env" names INTROSPECTION_SECRET_OKTA, which is not set (wrangler secret put INTROSPECTION_SECRET_OKTA)',
    );
    const short = refusal([OKTA], { INTROSPECTION_SECRET_OKTA: "short-secret" });
    expect(short).toMatch(/INTROSPECTION_SECRET_OKTA: must be at least 32 characters/);
    expect(short).not.toContain("short-secret");
  });

  it("refuses to name a setting of the gateway's own as the secret, or a name that is not a secret's", () => {
    expect(refusal(withIntrospection({ client_secret_env: "OPERATOR_TOKEN" }), { OPERATOR_TOKEN: SECRET })).toMatch(
      /names OPERATOR_TOKEN, a setting of the gateway's own/,
    );
    expect(refusal(withIntrospection({ client_secret_env: "lower-case" }))).toMatch(/needs a "client_secret_env"/);
    expect(refusal(withIntrospection({ client_secret: SECRET }))).toMatch(/"introspection": .*"client_secret"/);
  });

  it("refuses unknown keys with the nearest known one", () => {
    expect(refusal(withIntrospection({ cache_second: 5 }))).toMatch(/did you mean "cache_seconds"\?/);
  });

  it("needs an https url in production, and a client_id", () => {
    expect(refusal(withIntrospection({ url: "http://example.okta.com/introspect" }))).toMatch(
      /"introspection.url" must be https in production/,
    );
    expect(refusal(withIntrospection({ url: "https://example.okta.com/introspect?x=1" }))).toMatch(
      /without credentials, a query/,
    );
    expect(refusal(withIntrospection({ client_id: "" }))).toMatch(/needs a "client_id"/);
    const [local] = parse(withIntrospection({ url: "http://127.0.0.1:9000/introspect" }), {
      PORTCULLIS_ENV: "development",
    }).trustedIssuers;
    expect(local?.introspection?.allowInsecureRequests).toBe(true);
  });

  it("still needs a jwks_url on an issuer without introspection", () => {
    const { introspection: _none, ...plain } = OKTA;
    expect(refusal([plain])).toMatch(/needs a "jwks_url" \(or an "introspection", for opaque tokens\)/);
  });

  it("is set on one issuer at most: an opaque token says nothing of whose it is", () => {
    const other = { ...OKTA, id: "other", issuer: "https://other.example.com", subject_prefix: "other|" };
    expect(refusal([OKTA, other])).toMatch(/"introspection" is set on okta and other; one issuer at most/);
  });

  it("describes every key it accepts", () => {
    expect(Object.keys(INTROSPECTION_KEYS)).toEqual([
      "url",
      "client_id",
      "client_secret_env",
      "cache_seconds",
      "timeout_ms",
    ]);
  });
});
