/**
 * LOGIN_PROVIDERS, checked once at start (src/config/parse-login-providers.ts): what a
 * deployment with several providers gets, and every mistake refused with a message that
 * names the provider, before a single login could go wrong.
 */
import { describe, expect, it } from "vitest";
import type { ConfigEnv } from "../../src/config/env";
import { ConfigError, parseConfig } from "../../src/config/parse-config";
import { configurationMistake, namedForProvider } from "../../src/oidc/idp-errors";
import { PRODUCTION_BASE } from "../support/issuer-config";

const SECRET = "a-provider-client-secret-0123456789abcdef";
const BASE = {
  ...PRODUCTION_BASE,
  OIDC_SEALING_SECRET: "a-sealing-secret-that-is-long-enough-0123456",
  IDP_LOGOUT_INDEX: {},
  GOOGLE_SECRET: SECRET,
  GITHUB_SECRET: SECRET,
};
const GOOGLE = {
  id: "google",
  issuer: "https://accounts.google.com",
  client_id: "123.apps.googleusercontent.com",
  client_secret_env: "GOOGLE_SECRET",
};
const GITHUB = {
  id: "github",
  kind: "github",
  client_id: "Iv23li",
  client_secret_env: "GITHUB_SECRET",
  orgs: ["Acme"],
};

function parse(providers: unknown, env: Record<string, unknown> = {}) {
  return parseConfig({ ...BASE, LOGIN_PROVIDERS: JSON.stringify(providers), ...env } as unknown as ConfigEnv);
}

function refusal(providers: unknown, env: Record<string, unknown> = {}): string {
  try {
    parse(providers, env);
  } catch (error) {
    if (error instanceof ConfigError) return error.detail ?? "";
    throw error;
  }
  throw new Error("accepted");
}

describe("LOGIN_PROVIDERS accepted", () => {
  it("lists the OIDC_* provider first, then the entries, each with its defaults", () => {
    const config = parse([GOOGLE, GITHUB], {
      OIDC_ISSUER: "https://sso.acme.example",
      OIDC_CLIENT_ID: "portcullis",
      OIDC_CLIENT_SECRET: SECRET,
    });
    expect(config.loginProviders.map((p) => [p.id, p.kind, p.subjectPrefix, p.fromOidcSettings])).toEqual([
      ["oidc", "oidc", "oidc|", true],
      ["google", "oidc", "google|", false],
      ["github", "github", "github|", false],
    ]);
    expect(config.oidc?.id).toBe("oidc");
    const github = config.loginProviders[2];
    expect(github?.issuer).toBe("https://github.com");
    expect(github?.github).toEqual({ apiUrl: "https://api.github.com", orgs: ["acme"], teams: true });
    expect(github?.scopes).toEqual(["read:user", "user:email", "read:org"]);
    expect(github?.clientSecret).toBe(SECRET);
    // Every provider shares the sealing secret unless it names its own.
    expect(github?.sealingSecrets).toEqual(config.oidc?.sealingSecrets);
  });

  it("takes GitHub Enterprise Server's API under /api/v3, and LOGIN_PROVIDERS without OIDC_ISSUER", () => {
    const config = parse([{ ...GITHUB, url: "https://github.acme.example", orgs: ["*"], teams: false }]);
    expect(config.oidc?.id).toBe("github");
    expect(config.loginProviders[0]?.github).toEqual({
      apiUrl: "https://github.acme.example/api/v3",
      orgs: "any",
      teams: false,
    });
  });

  it("seals a provider's tokens with its own secret when it names one", () => {
    const own = "a-second-sealing-secret-long-enough-0123456";
    const config = parse([{ ...GOOGLE, sealing_secret_env: "GOOGLE_SEALING" }, GITHUB], { GOOGLE_SEALING: own });
    expect(config.loginProviders[0]?.sealingSecrets).toEqual({ current: own, previous: undefined });
    expect(config.loginProviders[1]?.sealingSecrets.current).toBe(BASE.OIDC_SEALING_SECRET);
  });

  it("is off with no OIDC_ISSUER and an empty list", () => {
    expect(parse([]).loginProviders).toEqual([]);
    expect(parse([]).oidc).toBeUndefined();
  });
});

describe("LOGIN_PROVIDERS refused", () => {
  it.each([
    [[{ ...GOOGLE, scope: "openid" }], 'provider 0 (google): has "scope"; did you mean "scopes"?'],
    [[{ ...GOOGLE, id: "oidc" }], 'provider 0 (oidc): "id" oidc is the OIDC_* settings\' provider'],
    [[{ ...GOOGLE, id: "Google" }], 'provider 0 (Google): "id" must be lower-case'],
    [[GOOGLE, { ...GOOGLE, issuer: "https://other.example" }], "provider 1 (google) has the id of another provider"],
    [[GOOGLE, { ...GOOGLE, id: "google2" }], "has the issuer and client of google"],
    [[GOOGLE, { ...GOOGLE, id: "g2", client_id: "other" }], "has the issuer of google; one provider per issuer"],
    [[GOOGLE, { ...GITHUB, subject_prefix: "google|x" }], "could make the same subject"],
    [[{ ...GOOGLE, subject_prefix: "svc|" }], "could make the same subject as a service client"],
    [[{ ...GITHUB, orgs: undefined }], 'needs "orgs"'],
    [[{ ...GITHUB, orgs: ["not an org"] }], '"orgs" has "not an org"'],
    [[{ ...GITHUB, orgs: [] }], '"orgs" must name at least one organisation'],
    [[{ ...GOOGLE, client_secret_env: "MISSING_SECRET" }], "names MISSING_SECRET, which is not set"],
    [[{ ...GOOGLE, client_secret_env: "OPERATOR_TOKEN" }], "a setting of the gateway's own"],
    [[{ ...GOOGLE, client_secret_env: undefined }], 'needs one of "client_secret_env" and "client_private_key_env"'],
    [[{ ...GOOGLE, issuer: "http://accounts.google.com" }], "must be https in production"],
    [[{ ...GOOGLE, scopes: "profile email" }], '"scopes" must include "openid"'],
    [[{ ...GOOGLE, authorization_params: "redirect_uri=https://evil.example" }], 'must not set "redirect_uri"'],
    [[{ ...GOOGLE, email_domains: ["not a domain"] }], '"email_domains" has "not a domain"'],
    [[{ ...GITHUB, url: "https://github.acme.example/path" }], '"url" must be an origin'],
    [[{ ...GOOGLE, kind: "saml" }], '"kind" must be "oidc" or "github"'],
    [{ id: "google" }, "must be a list of providers"],
  ])("%j: %s", (providers, message) => {
    expect(refusal(providers)).toContain(message);
  });

  it("refuses a trusted issuer whose subjects could be a login provider's", () => {
    const issuers = [
      {
        id: "ci",
        issuer: "https://ci.example",
        jwks_url: "https://ci.example/jwks",
        audience: "api",
        subject_prefix: "github|",
      },
    ];
    expect(refusal([GITHUB], { TRUSTED_ISSUERS: JSON.stringify(issuers) })).toContain(
      "could make the same subject as login provider github's",
    );
  });

  it("needs the IDP_LOGOUT_INDEX binding, as OIDC_ISSUER does", () => {
    expect(refusal([GOOGLE], { IDP_LOGOUT_INDEX: undefined })).toContain("IDP_LOGOUT_INDEX");
  });
});

describe("a provider's answer that means our settings are wrong", () => {
  it("names the LOGIN_PROVIDERS entry's key, not an OIDC_* setting it may not have", () => {
    const mistake = configurationMistake("invalid_client", undefined);
    const named = namedForProvider({ id: "partner", fromOidcSettings: false }, mistake) as ConfigError;
    expect(named.setting).toBe("LOGIN_PROVIDERS (partner)");
    expect(named.detail).toMatch(
      /^LOGIN_PROVIDERS \(partner\): "client_secret_env": .*check "client_id" and "client_secret_env"/,
    );
    expect(named.detail).not.toMatch(/OIDC_/);
    expect(namedForProvider({ id: "oidc", fromOidcSettings: true }, mistake)).toBe(mistake);
  });
});
