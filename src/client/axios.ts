/**
 * Plugs a PortcullisClient into an axios instance through interceptors, for apps that
 * already call their API with axios (the seed design's users). axios is an optional peer:
 * this module only describes the parts of it that it touches and imports nothing.
 *
 *   const detach = attachToAxios(axios, client);
 *
 * Requests to the gateway's origin get the access token (refreshed first when due), and
 * with a DPoP token a proof for their method and URL; an `Authorization` the caller set
 * itself is left alone; a token the gateway refreshed is adopted; a 401 `use_dpop_nonce`
 * is retried once with a proof carrying the gateway's nonce, a 401 `invalid_token` once
 * after one shared refresh.
 */
import type { PortcullisClient } from "./portcullis-client";

/** The parts of an axios request config the adapter reads and writes. */
export interface AxiosRequestConfigLike {
  url?: string | undefined;
  baseURL?: string | undefined;
  /** axios's default is `get`; sent upper-cased, as the proof's `htm` must be. */
  method?: string | undefined;
  headers?: unknown;
  /** Set by the adapter on the one retry after a refresh. */
  portcullisRetried?: boolean;
}

interface AxiosResponseLike {
  status: number;
  headers?: unknown;
}

interface AxiosInterceptorManagerLike<V> {
  use(onFulfilled?: ((value: V) => V | Promise<V>) | null, onRejected?: ((error: unknown) => unknown) | null): number;
  eject(id: number): void;
}

/** The parts of an axios instance the adapter uses (`axios` itself or `axios.create()`). */
export interface AxiosInstanceLike {
  interceptors: {
    request: AxiosInterceptorManagerLike<AxiosRequestConfigLike>;
    response: AxiosInterceptorManagerLike<AxiosResponseLike & { config?: AxiosRequestConfigLike }>;
  };
  request(config: AxiosRequestConfigLike): Promise<unknown>;
}

interface HeaderBag {
  get?: (name: string) => unknown;
  set?: (name: string, value: string) => unknown;
  delete?: (name: string) => unknown;
}

function readHeader(headers: unknown, name: string): string | undefined {
  if (typeof headers !== "object" || headers === null) return undefined;
  const bag = headers as HeaderBag & Record<string, unknown>;
  const value = typeof bag.get === "function" ? bag.get(name) : (bag[name] ?? bag[name.toLowerCase()]);
  return typeof value === "string" ? value : undefined;
}

/** The headers the adapter writes, as axios spells them. */
const HEADER_NAMES: Readonly<Record<string, string>> = { authorization: "Authorization", dpop: "DPoP" };

function writeHeader(config: AxiosRequestConfigLike, name: string, value: string): void {
  const headers = config.headers as HeaderBag | undefined;
  if (headers && typeof headers.set === "function") headers.set(name, value);
  else config.headers = { ...(headers as Record<string, unknown> | undefined), [name]: value };
}

function removeOwnHeaders(config: AxiosRequestConfigLike): void {
  const headers = config.headers as (HeaderBag & Record<string, unknown>) | undefined;
  if (!headers) return;
  for (const spelled of Object.values(HEADER_NAMES)) {
    if (typeof headers.delete === "function") headers.delete(spelled);
    else
      for (const name of Object.keys(headers)) {
        if (name.toLowerCase() === spelled.toLowerCase()) delete headers[name];
      }
  }
}

function targetUrl(config: AxiosRequestConfigLike): string {
  const url = config.url ?? "";
  if (/^[a-z][a-z\d+\-.]*:\/\//i.test(url) || !config.baseURL) return url;
  return `${config.baseURL.replace(/\/+$/, "")}/${url.replace(/^\/+/, "")}`;
}

function isAxiosErrorLike(
  error: unknown,
): error is { config: AxiosRequestConfigLike; response: AxiosResponseLike & { config?: AxiosRequestConfigLike } } {
  if (typeof error !== "object" || error === null) return false;
  const candidate = error as { config?: unknown; response?: unknown };
  return typeof candidate.config === "object" && candidate.config !== null && typeof candidate.response === "object";
}

/**
 * Add the client's interceptors to an axios instance.
 * @returns a function that removes them again.
 */
export function attachToAxios(instance: AxiosInstanceLike, client: PortcullisClient): () => void {
  // The token each request went out with (absent: the request is not ours to authorize).
  const sentWith = new WeakMap<AxiosRequestConfigLike, string | undefined>();

  const requestId = instance.interceptors.request.use(async function authorizeRequest(config) {
    const ownHeader = readHeader(config.headers, "authorization") !== undefined && !sentWith.has(config);
    if (ownHeader || !client.authorizes(targetUrl(config))) return config;
    const method = (config.method ?? "get").toUpperCase();
    const { token, headers } = await client.requestHeaders(method, targetUrl(config));
    sentWith.set(config, token);
    for (const [name, value] of Object.entries(headers)) writeHeader(config, HEADER_NAMES[name] ?? name, value);
    return config;
  });

  const responseId = instance.interceptors.response.use(
    async function adoptRefreshedToken(response) {
      const config = response.config;
      if (config && sentWith.has(config)) {
        await client.afterResponse(sentWith.get(config), response.status, (name) => readHeader(response.headers, name));
      }
      return response;
    },
    async function retryAfterRefresh(error: unknown) {
      if (!isAxiosErrorLike(error) || !sentWith.has(error.config) || error.config.portcullisRetried) throw error;
      const { config, response } = error;
      const retry = await client.afterResponse(sentWith.get(config), response.status, (name) =>
        readHeader(response.headers, name),
      );
      if (!retry) throw error;
      // Ours, so the request interceptor puts the new token (and a new proof) in rather than keep these.
      removeOwnHeaders(config);
      // axios copies a config it is asked to send again, so object identity (and the
      // WeakMap above) does not survive the retry; an own property does.
      return instance.request({ ...config, portcullisRetried: true });
    },
  );

  return function detachFromAxios() {
    instance.interceptors.request.eject(requestId);
    instance.interceptors.response.eject(responseId);
  };
}
