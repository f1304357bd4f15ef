/**
 * What a page did on its way through a login, as Chromium did it: the main frame's committed
 * navigations, every request it sent to the gateway with the names of the cookies Chromium
 * attached (its own SameSite decision, read from the headers it actually sent) and the status
 * it got, and its requests to the identity provider. For test/browser/oidc-landing.test.ts.
 */
import type { Page, Request } from "playwright-core";

/** One request a page sent to the gateway. */
export interface GatewayHop {
  readonly method: string;
  /** Path without the query. */
  readonly path: string;
  /** Was it a navigation of the main frame (rather than a script's fetch)? */
  readonly navigation: boolean;
  /** Names of the cookies Chromium sent with it, in header order. */
  readonly cookies: readonly string[];
  /** The answer's status; 0 when there was none (the request failed). */
  readonly status: number;
}

export interface TrailOrigins {
  readonly gateway: string;
  readonly idp: string;
}

export interface BrowserTrail {
  /**
   * The main frame's committed navigations (redirects commit nothing), as `gateway <path>`,
   * `idp <path>` or `other <path>` without the query, the IdP's interaction ids as `:uid`.
   */
  readonly navigations: string[];
  /** Requests to the identity provider, as `GET /auth` (interaction ids as `:uid`), in order. */
  readonly idpRequests: string[];
  /** Every request to the gateway, in order, once {@link settled} has resolved. */
  readonly gatewayHops: GatewayHop[];
  /** Resolves once the cookies and status of every request so far are known. */
  settled(): Promise<void>;
}

/** How long to wait for a request's final headers or its answer before taking what there is (bounded). */
const WAIT_MS = 5_000;

function bounded<T>(promise: Promise<T>, fallback: () => T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback()), WAIT_MS);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

function cookieNames(header: string | undefined): string[] {
  if (header === undefined) return [];
  return header
    .split(";")
    .map((pair) => pair.split("=")[0]?.trim() ?? "")
    .filter((name) => name !== "");
}

function withoutIds(path: string): string {
  return path.replace(/^\/(interaction|auth)\/[\w-]+/, "/$1/:uid");
}

async function hopOf(request: Request, navigation: boolean): Promise<GatewayHop> {
  const [headers, response] = await Promise.all([
    bounded(request.allHeaders(), () => request.headers()),
    bounded(request.response(), () => null),
  ]);
  return {
    method: request.method(),
    path: new URL(request.url()).pathname,
    navigation,
    cookies: cookieNames(headers.cookie),
    status: response?.status() ?? 0,
  };
}

/** Starts recording `page`'s trail between the gateway's and the provider's origins. */
export function followTrail(page: Page, origins: TrailOrigins): BrowserTrail {
  const navigations: string[] = [];
  const idpRequests: string[] = [];
  const pending: Promise<GatewayHop>[] = [];
  const gatewayHops: GatewayHop[] = [];
  page.on("framenavigated", (frame) => {
    if (frame !== page.mainFrame()) return;
    const url = new URL(frame.url());
    if (url.origin === origins.gateway) navigations.push(`gateway ${url.pathname}`);
    else if (url.origin === origins.idp) navigations.push(`idp ${withoutIds(url.pathname)}`);
    else navigations.push(`other ${url.pathname}`);
  });
  page.on("request", (request) => {
    const url = new URL(request.url());
    if (url.origin === origins.idp) idpRequests.push(`${request.method()} ${withoutIds(url.pathname)}`);
    if (url.origin !== origins.gateway) return;
    pending.push(hopOf(request, request.isNavigationRequest() && request.frame() === page.mainFrame()));
  });
  return {
    navigations,
    idpRequests,
    gatewayHops,
    settled: async () => {
      gatewayHops.splice(0, gatewayHops.length, ...(await Promise.all(pending)));
    },
  };
}

/** The hops as text, one a line (`GET /path 302 [cookie, …]`), for failure messages and the report. */
export function describeHops(hops: readonly GatewayHop[]): string {
  return hops.map((hop) => `${hop.method} ${hop.path} ${hop.status} [${hop.cookies.join(", ")}]`).join("\n");
}
