/**
 * Two sites for the OIDC landing tests in Chromium: the bundled gateway in miniflare, reached
 * as `http://localhost:<port>` (development mode serves only loopback host names, and a
 * browser treats http://localhost as a secure context, so the `__Host-` cookies are kept),
 * and the test IdP (test/support/oidc-idp.ts) at `http://127.0.0.1:<port>`, another site.
 * The provider sends the browser back across sites, which is where SameSite decides.
 *
 * The gateway has the documented minimal OIDC settings and nothing else that matters here:
 * the development signing key, COOKIE_SAMESITE and ACCESS_COOKIE at their defaults (Strict,
 * off), `/public/*` public and every other path protected.
 */
import path from "node:path";
import { buildWorker, ROOT } from "../../support/build-worker";
import { type Gateway, startGateway } from "../../support/gateway";
import { TEST_SEALING_SECRET } from "../../support/oidc-gateway";
import { CALLBACK_PATH, startIdp, type TestIdp } from "../../support/oidc-idp";
import { startUpstream, type TestUpstream } from "../../support/upstream";
import { type CallbackProxy, startCallbackProxy } from "./callback-proxy";

/**
 * This file's own bundle directory, so that another test run rebuilding dist/test-worker or
 * dist/browser-test-worker at the same time never hands miniflare a half-written file.
 */
const BUNDLE_DIR = path.join(ROOT, "dist/browser-oidc-landing-worker");

const PORTAL_PATH = "/portal.html";

function escapeAttribute(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll('"', "&quot;").replaceAll("<", "&lt;");
}

/** Bundles the Worker as `wrangler deploy` would; returns the bundle's path. */
export function buildLandingBundle(): string {
  return buildWorker({ outdir: BUNDLE_DIR });
}

/**
 * Settings startGateway fills in for the integration tests that the minimal configuration
 * leaves to development mode's defaults (issuer, audience, secrets) or to the gateway's own
 * defaults (COOKIE_SAMESITE, set explicitly in wrangler.toml's [env.production]). The empty
 * OIDC_* values of [env.production] stay: empty is unset.
 */
const LEFT_TO_DEFAULTS = [
  "TOKEN_ISSUER",
  "TOKEN_AUDIENCE",
  "CREDENTIAL_CHECK_SECRET",
  "OPERATOR_TOKEN",
  "COOKIE_SAMESITE",
];

export interface LandingSiteOptions {
  /** The bundle from {@link buildLandingBundle}. */
  readonly bundle: string;
  /** OIDC_AUTHORIZATION_PARAMS, e.g. "prompt=consent"; none (the default) when undefined. */
  readonly authorizationParams?: string;
}

export interface LandingSite {
  readonly idp: TestIdp;
  readonly upstream: TestUpstream;
  readonly gateway: Gateway;
  /** `http://localhost:<port>`: the gateway's origin for the browser, registered at the IdP. */
  readonly url: string;
  /** The same gateway behind a proxy that can rewrite the callback's answer; also registered. */
  readonly proxy: CallbackProxy;
  /**
   * A page on a third site (the test upstream's own origin, `http://127.0.0.1:<port>`, reached
   * directly) with one link, to `target`: a portal or a mail from which a user follows a link.
   */
  portalLinkingTo(target: string): string;
  close(): Promise<void>;
}

/** Starts the upstream, the IdP and the gateway, and registers the gateway's localhost origin at the IdP. */
export async function startLandingSite(options: LandingSiteOptions): Promise<LandingSite> {
  const upstream = await startUpstream();
  const idp = await startIdp();
  let gateway: Gateway | undefined;
  let proxy: CallbackProxy | undefined;
  try {
    gateway = await startGateway({
      upstream,
      omit: LEFT_TO_DEFAULTS,
      workerOptions: { scriptPath: options.bundle },
      sharedOptions: { host: "127.0.0.1" },
      vars: {
        PORTCULLIS_ENV: "development",
        ...idp.gatewayVars(),
        OIDC_SEALING_SECRET: TEST_SEALING_SECRET,
        // Empty: development mode's own signing key.
        SIGNING_KEYS: "",
        ROUTES: JSON.stringify([{ path: "/public/*", public: true }]),
        ...(options.authorizationParams === undefined
          ? {}
          : { OIDC_AUTHORIZATION_PARAMS: options.authorizationParams }),
      },
    });
    // The redirect URI is derived from the request's origin: the one the browser uses.
    const url = `http://localhost:${new URL(gateway.url).port}`;
    proxy = await startCallbackProxy(gateway.url);
    await idp.registerGateway(url, {
      redirect_uris: [url, proxy.url].map((origin) => `${origin}${CALLBACK_PATH}`),
    });
    const [started, proxied] = [gateway, proxy];
    upstream.route(PORTAL_PATH, (request, response) => {
      const target = new URL(request.url ?? "/", upstream.url).searchParams.get("to") ?? "/";
      response.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
      response.end(
        `<!doctype html><meta charset="utf-8"><title>portal</title><a href="${escapeAttribute(target)}">Orders</a>`,
      );
    });
    return {
      idp,
      upstream,
      gateway: started,
      url,
      proxy: proxied,
      portalLinkingTo: (target) => `${upstream.url}${PORTAL_PATH}?to=${encodeURIComponent(target)}`,
      close: async () => {
        await proxied.close();
        await started.close();
        await idp.close();
        await upstream.close();
      },
    };
  } catch (error) {
    await proxy?.close();
    await gateway?.close();
    await idp.close();
    await upstream.close();
    throw error;
  }
}
