/**
 * A gateway configured for login through the test IdP (test/support/oidc-idp.ts), both on
 * 127.0.0.1. Development mode, because only development mode accepts an http: issuer.
 */
import { type Gateway, type GatewayOptions, startGateway } from "./gateway";
import { type IdpOptions, startIdp, type TestIdp } from "./oidc-idp";

export const TEST_SEALING_SECRET = "test-oidc-sealing-secret-0123456789abcdef";

export interface OidcSetup {
  readonly idp: TestIdp;
  readonly gateway: Gateway;
  close(): Promise<void>;
}

export async function startOidcGateway(
  options: {
    /** Vars on top of the IdP's; a function of the IdP for those that name it (e.g. a misspelled issuer). */
    vars?: Record<string, unknown> | ((idp: TestIdp) => Record<string, unknown>);
    idp?: IdpOptions;
    gateway?: GatewayOptions;
  } = {},
): Promise<OidcSetup> {
  const idp = await startIdp(options.idp);
  const vars = typeof options.vars === "function" ? options.vars(idp) : options.vars;
  const gateway = await startGateway({
    ...options.gateway,
    vars: {
      PORTCULLIS_ENV: "development",
      ...idp.gatewayVars(),
      OIDC_SEALING_SECRET: TEST_SEALING_SECRET,
      OIDC_ROLES_CLAIM: "groups",
      // oidc-provider issues a refresh token only after an explicit consent.
      OIDC_AUTHORIZATION_PARAMS: "prompt=consent",
      ...vars,
    },
  });
  await idp.registerGateway(gateway.url);
  return {
    idp,
    gateway,
    close: async () => {
      await gateway.close();
      await idp.close();
    },
  };
}

export interface RawAnswer {
  readonly status: number;
  readonly headers: import("node:http").IncomingHttpHeaders;
  readonly body: string;
}

/**
 * One request through node:http, headers exactly as given. Node's fetch overwrites
 * `Sec-Fetch-Mode` with "cors", so browser navigations are sent this way.
 */
export async function rawRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<RawAnswer> {
  const http = await import("node:http");
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method: options.method ?? "GET", headers: options.headers }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => {
        body += chunk;
      });
      response.on("error", reject);
      response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
    });
    request.on("error", reject);
    request.end(options.body);
  });
}
