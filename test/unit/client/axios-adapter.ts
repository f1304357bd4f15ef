/**
 * An axios adapter that sends each request to a fake gateway's `fetch` (fake-gateway.ts,
 * fake-dpop-gateway.ts) instead of the network, and answers as axios's own adapters do:
 * a result, or an AxiosError for a status `validateStatus` refuses.
 */
import { AxiosError, type AxiosResponse, type InternalAxiosRequestConfig } from "axios";

type FetchLike = (input: URL, init: RequestInit) => Promise<Response>;

export function adapterFor(fetch: FetchLike, base: string) {
  return async (config: InternalAxiosRequestConfig): Promise<AxiosResponse> => {
    const url = new URL(config.url ?? "", config.baseURL ?? base);
    const headers = new Headers();
    for (const [name, value] of Object.entries(config.headers.toJSON())) {
      if (typeof value === "string") headers.set(name, value);
    }
    const response = await fetch(url, {
      method: (config.method ?? "get").toUpperCase(),
      headers,
      body: config.data ?? null,
    });
    const result = {
      data: await response.text(),
      status: response.status,
      statusText: response.statusText,
      headers: Object.fromEntries(response.headers),
      config,
    };
    if (config.validateStatus?.(response.status) ?? true) return result;
    throw new AxiosError("refused", AxiosError.ERR_BAD_REQUEST, config, {}, result);
  };
}
