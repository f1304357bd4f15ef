/**
 * The headers that carry a token to the gateway, and the POSTs to its token endpoints
 * (login, refresh, logout): one place that decides what scheme and which proof a request
 * gets, so the fetch wrapper, the token endpoints and the axios adapter cannot differ.
 */
import type { HeldToken } from "./access-token";
import type { FetchFunction } from "./client-options";
import { type DpopProver, demandsNonce } from "./dpop-prover";
import { PortcullisClientError } from "./errors";

/** What a request to the gateway needs, for transports the client does not wrap. */
export interface RequestAuthorization {
  /** The access token the headers carry (undefined: none; pass it to `afterResponse`). */
  readonly token: string | undefined;
  /** `authorization` (`Bearer …` or `DPoP …`) when there is a token, and `dpop` (the proof) with a DPoP token. */
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * `Authorization: <scheme> <token>` when there is a token, and a DPoP proof (with `ath`
 * when a token goes along) when the token is a DPoP token or `withProof` asks for one,
 * as the token endpoints do so that the session gets bound. Without a key: no proof.
 */
export async function credentialHeaders(
  dpop: DpopProver | undefined,
  method: string,
  url: URL,
  token: HeldToken | undefined,
  withProof = false,
): Promise<Headers> {
  const headers = new Headers();
  if (token !== undefined) headers.set("authorization", `${token.scheme} ${token.value}`);
  if (withProof || token?.scheme === "DPoP") {
    const proof = await dpop?.proof(method, url, token?.value);
    if (proof !== undefined) headers.set("dpop", proof);
  }
  return headers;
}

export interface TokenEndpointRequest {
  readonly fetch: FetchFunction;
  readonly dpop: DpopProver | undefined;
  readonly url: URL;
  readonly credentials: RequestCredentials;
  readonly timeoutMs: number;
  /** JSON. */
  readonly body?: string | undefined;
  /** The token to present (logout). */
  readonly token?: HeldToken | undefined;
}

/**
 * POST to a token endpoint with a proof, sent again once with a fresh proof when the
 * gateway answers that it wants its nonce in it. Gives up after `timeoutMs`, signing
 * included. Throws `network_error` when there is no answer.
 */
export async function postToTokenEndpoint(request: TokenEndpointRequest): Promise<Response> {
  const { dpop, url, body } = request;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), request.timeoutMs);
  try {
    for (let sent = 1; ; sent++) {
      const headers = await credentialHeaders(dpop, "POST", url, request.token, true);
      headers.set("accept", "application/json");
      if (body !== undefined) headers.set("content-type", "application/json");
      controller.signal.throwIfAborted();
      const response = await request.fetch(url, {
        method: "POST",
        headers,
        credentials: request.credentials,
        signal: controller.signal,
        ...(body === undefined ? {} : { body }),
      });
      const header = (name: string) => response.headers.get(name);
      dpop?.observe(header);
      dpop?.observeClock(header);
      if (sent > 1 || !headers.has("dpop") || !(await demandsNonce(response))) return response;
      await response.body?.cancel();
    }
  } catch (error) {
    throw new PortcullisClientError("network_error", `POST ${url.pathname} got no answer`, { cause: error });
  } finally {
    clearTimeout(timer);
  }
}
