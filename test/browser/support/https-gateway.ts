/**
 * The bundled gateway in miniflare (test/support/gateway.ts, the integration tests' build)
 * served over HTTPS (miniflare's self-signed certificate) on a port chosen before it
 * starts, so that a browser can reach it under several real-looking host names and the
 * test knows their origins in advance. `__Host-` cookies are `Secure`: only an https origin
 * with a real host name lets a browser keep and send them as it would in production.
 * Chromium maps the names to 127.0.0.1 itself ({@link HOST_MAPPING_FLAGS}); production mode
 * serves any host name, so one gateway plays the app, a sibling subdomain and other sites.
 */
import path from "node:path";
import { buildWorker, ROOT } from "../../support/build-worker";
import { freePort, retryOnPortClash } from "../../support/free-port";
import { type Gateway, startGateway } from "../../support/gateway";
import type { TestUpstream } from "../../support/upstream";

/**
 * Chromium flags: every `*.test` host name resolves to 127.0.0.1 (the port stays as
 * written), and miniflare's self-signed certificate is accepted without an interstitial.
 */
export const HOST_MAPPING_FLAGS: readonly string[] = [
  "--host-resolver-rules=MAP *.test 127.0.0.1",
  "--ignore-certificate-errors",
];

/**
 * Where this file's bundle goes: the same `wrangler deploy --dry-run` build as the
 * integration tests', in a directory of its own, so that an integration run that rebuilds
 * dist/test-worker at the same time never hands miniflare a half-written file.
 */
const BROWSER_BUNDLE_DIR = path.join(ROOT, "dist/browser-test-worker");

/** Bundles the Worker as `wrangler deploy` would; returns the bundle's path. */
export function buildBrowserBundle(): string {
  return buildWorker({ outdir: BROWSER_BUNDLE_DIR });
}

export interface HttpsGatewayOptions {
  /** The bundle from {@link buildBrowserBundle}. */
  readonly bundle: string;
  readonly upstream: TestUpstream;
  /** Vars and secrets, given the origin function (for settings that name origins, e.g. ALLOWED_ORIGINS). */
  readonly vars: (origin: (host: string) => string) => Record<string, unknown>;
}

export interface HttpsGateway {
  /** Its `logs` and `waitForLog` work as usual; `fetch` and `flushLogs` do not (Node's fetch refuses the certificate). */
  readonly gateway: Gateway;
  readonly port: number;
  /** `https://<host>:<port>`: the origin of a page the gateway serves under `host`. */
  origin(host: string): string;
  /** Stops the gateway (not the upstream, which the caller owns). */
  close(): Promise<void>;
}

/** Starts the gateway over HTTPS on a free loopback port (again on a fresh one if it was taken meanwhile). */
export function startHttpsGateway(options: HttpsGatewayOptions): Promise<HttpsGateway> {
  return retryOnPortClash(async () => {
    const port = await freePort();
    const origin = (host: string) => `https://${host}:${port}`;
    const gateway = await startGateway({
      upstream: options.upstream,
      vars: options.vars(origin),
      workerOptions: { scriptPath: options.bundle },
      sharedOptions: { https: true, host: "127.0.0.1", port },
    });
    return { gateway, port, origin, close: () => gateway.close() };
  });
}
