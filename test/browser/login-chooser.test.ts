/**
 * The login chooser in a real headless Chromium (issue 27): a deployment with two login
 * providers (the test IdP through the OIDC_* settings, and GitHub through the emulation,
 * both on 127.0.0.1, other sites than the gateway's http://localhost), a protected page, a
 * browser without a session. The navigation lands on the chooser; each button goes through
 * its provider's own pages and back to the page, signed in as that provider's subject.
 * Nothing is driven around the browser: redirects, forms, cookies and SameSite are Chromium's.
 */
import path from "node:path";
import type { Browser, BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildWorker, ROOT } from "../support/build-worker";
import { type Gateway, startGateway } from "../support/gateway";
import { type GitHubEmulator, startGitHubEmulator } from "../support/github-emulator";
import { TEST_SEALING_SECRET } from "../support/oidc-gateway";
import { CALLBACK_PATH, startIdp, type TestIdp } from "../support/oidc-idp";
import { startUpstream, type TestUpstream } from "../support/upstream";
import { launchChromium } from "./support/browser";
import { signInAtIdp } from "./support/idp-sign-in";

const GITHUB_SECRET = "github-client-secret-for-the-browser-test-0123";
const PAGE = "/orders/1";

let browser: Browser;
let upstream: TestUpstream;
let idp: TestIdp;
let github: GitHubEmulator;
let gateway: Gateway;
/** http://localhost:<port>: the gateway as the browser reaches it. */
let site: string;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  const bundle = buildWorker({ outdir: path.join(ROOT, "dist/browser-login-chooser-worker") });
  [browser, upstream, idp] = await Promise.all([launchChromium(), startUpstream(), startIdp()]);
  github = await startGitHubEmulator({
    clients: [{ clientId: "gh-browser", clientSecret: GITHUB_SECRET }],
    users: {
      octo: {
        id: 1001,
        emails: [{ email: "octo@acme.test", primary: true, verified: true }],
        orgs: ["acme"],
        teams: [],
      },
    },
  });
  gateway = await startGateway({
    upstream,
    omit: ["TOKEN_ISSUER", "TOKEN_AUDIENCE", "CREDENTIAL_CHECK_SECRET", "OPERATOR_TOKEN", "COOKIE_SAMESITE"],
    workerOptions: { scriptPath: bundle },
    sharedOptions: { host: "127.0.0.1" },
    vars: {
      PORTCULLIS_ENV: "development",
      ...idp.gatewayVars(),
      OIDC_LABEL: "Acme SSO",
      OIDC_SEALING_SECRET: TEST_SEALING_SECRET,
      SIGNING_KEYS: "",
      GITHUB_CLIENT_SECRET: GITHUB_SECRET,
      LOGIN_PROVIDERS: JSON.stringify([
        {
          id: "github",
          kind: "github",
          label: "GitHub",
          url: github.origin,
          client_id: "gh-browser",
          client_secret_env: "GITHUB_CLIENT_SECRET",
          orgs: ["acme"],
        },
      ]),
    },
  });
  site = `http://localhost:${new URL(gateway.url).port}`;
  await idp.registerGateway(site, { redirect_uris: [`${site}${CALLBACK_PATH}`] });
});

afterAll(async () => {
  await Promise.all(contexts.map((context) => context.close().catch(() => undefined)));
  await browser?.close();
  await gateway?.close();
  await Promise.all([idp?.close(), github?.close(), upstream?.close()]);
});

async function freshPage() {
  const context = await browser.newContext();
  contexts.push(context);
  return context.newPage();
}

/** The subject the upstream was told for the last request to PAGE. */
function lastSubjectAtPage(): unknown {
  const seen = upstream.proxied().filter((request) => request.url === PAGE);
  return seen.at(-1)?.headers["x-auth-subject"];
}

describe("the login chooser in Chromium", () => {
  it("shows every provider when a signed-out browser opens a protected page", async () => {
    const page = await freshPage();
    await page.goto(`${site}${PAGE}`);
    expect(new URL(page.url()).pathname).toBe("/auth/login");
    await expect(page.getByRole("heading", { name: "Sign in" }).isVisible()).resolves.toBe(true);
    const buttons = await page.getByRole("link").allTextContents();
    expect(buttons).toEqual(["Sign in with Acme SSO", "Sign in with GitHub"]);
  });

  it("signs in with GitHub through its consent page and lands back on the page", async () => {
    const page = await freshPage();
    await page.goto(`${site}${PAGE}`);
    await page.getByRole("link", { name: "Sign in with GitHub" }).click();
    await page.waitForURL((url) => url.origin === github.origin);
    await page.getByLabel("Username or email address").fill("octo");
    await page.getByRole("button", { name: "Authorize" }).click();
    await page.waitForURL(`${site}${PAGE}`);
    expect(lastSubjectAtPage()).toBe("github|1001");
  });

  it("signs in with the OpenID Connect provider from the same chooser", async () => {
    const page = await freshPage();
    await page.goto(`${site}${PAGE}`);
    await page.getByRole("link", { name: "Sign in with Acme SSO" }).click();
    await signInAtIdp(page, new URL(idp.issuer).origin, "ann");
    await page.waitForURL(`${site}${PAGE}`);
    expect(lastSubjectAtPage()).toBe("oidc|ann");
  });
});
