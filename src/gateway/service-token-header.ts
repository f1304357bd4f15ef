/**
 * SERVICE_TOKEN_HEADER (docs/identities.md, "One header instead of an exchange"): a service
 * client that cannot run the exchange at POST /auth/token sends `<client_id>:<secret>` in
 * the configured header on every request. The gateway authenticates it exactly as the
 * token endpoint's client_secret_basic would (machines/service-token-grant.ts: the same
 * object, the same constant-time check, the same per-address and per-client limits), is
 * given the same access token with the client's full scopes, and then judges the request
 * as if it had carried that token as a bearer token (authenticate.ts): the route's
 * `issuers`, revocation of the `svc|` subject, scopes and conditions apply unchanged.
 *
 * Cost: a minted token is kept per isolate, keyed by the SHA-256 of the header's value
 * (never the value itself), for at most SERVICE_TOKEN_CACHE_SECONDS and never into the
 * last seconds of its life; so a request in that window costs a hash, not a call to the
 * object, and a secret rotated out (or a client that expired) stops working within that
 * bound. A revoked subject bites at once: the minted token goes through the per-request
 * revocation check like any other, and a cached token that is refused is dropped, so the
 * next request asks the object again (which refuses a revoked client).
 *
 * The header itself never reaches the upstream: the request's headers are read without it
 * (proxy/upstream-request.ts).
 */
import { GatewayError } from "../errors/gateway-error";
import { ACCESS_COOKIE, cookieValues } from "../http/cookies";
import { enforceRateLimit, ipKey } from "../http/rate-limit";
import { SERVICE_CLIENTS_INSTANCE } from "../machines/service-client-record";
import {
  authenticateBySecret,
  type ClientChallenge,
  issueServiceToken,
  refusedClient,
} from "../machines/service-token-grant";
import { acceptsIssuer } from "../policy/route-matching";
import { type Authenticated, authenticateToken } from "./authenticate";
import type { RequestContext } from "./request-context";

/** How long a minted token is reused at most: the bound on a rotated-out secret, or an expired client, still working. */
export const SERVICE_TOKEN_CACHE_SECONDS = 60;
/** Minted tokens kept per isolate at most (oldest out first): anyone can send values, so what they hold stays small. */
export const MAX_CACHED_SERVICE_TOKENS = 1024;
/** A token is not reused in its last seconds, so it never expires between the lookup and the upstream. */
const EXPIRY_MARGIN_SECONDS = 5;

/** `<client_id>:<secret>`, exactly as the operator's endpoint issued them (machines/client-secret.ts). */
const VALUE = /^([0-9a-f]{32}):(pcs_[A-Za-z0-9_-]{43})$/;

interface CachedToken {
  readonly token: string;
  /** Milliseconds since the epoch: reused until then. */
  readonly until: number;
}

/** Per config (a new config starts afresh): SHA-256 of a header value (base64) → its token, and exchanges under way. */
interface TokenCache {
  readonly tokens: Map<string, CachedToken>;
  /** By the same key: a burst of requests with a cold cache asks the object once. */
  readonly inFlight: Map<string, Promise<CachedToken>>;
}

const caches = new WeakMap<object, TokenCache>();

function cacheOf(context: RequestContext): TokenCache {
  let cache = caches.get(context.config);
  if (cache === undefined) {
    cache = { tokens: new Map(), inFlight: new Map() };
    caches.set(context.config, cache);
  }
  return cache;
}

/** The refusals of a token that mean this one will not do again: it is dropped. */
const TOKEN_REFUSALS: ReadonlySet<string> = new Set([
  "token_invalid",
  "token_expired",
  "token_revoked",
  "token_malformed",
]);

async function keyOf(value: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(value)));
  let binary = "";
  for (const byte of digest) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** The one credential of the request: the header and a bearer token (or any Authorization), or the access cookie, is ambiguous. */
function assertOnlyCredential(context: RequestContext, name: string): void {
  const { authorization, cookie } = context.incoming;
  if ((authorization !== null && authorization !== "") || cookieValues(cookie, ACCESS_COOKIE).length > 0) {
    throw new GatewayError("token_ambiguous", {
      detail: `${name} together with an Authorization header or the access cookie`,
    });
  }
}

/**
 * Steps 2–5 for a request that carries SERVICE_TOKEN_HEADER (the setting is on: the
 * request context read the header only then). `issuers`: the route's, as for a bearer token.
 */
export async function authenticateServiceTokenHeader(
  context: RequestContext,
  issuers: readonly string[] | undefined,
): Promise<Authenticated> {
  // The context read a value only because the setting is on.
  const { name } = context.config.serviceTokenHeader as { readonly name: string };
  const value = context.incoming.serviceToken as string;
  const challenge: ClientChallenge = { serviceTokenChallenge: name };
  assertOnlyCredential(context, name);
  const credentials = VALUE.exec(value);
  if (credentials === null) {
    throw new GatewayError("request_invalid", {
      detail: `${name} is not <client_id>:<secret>`,
      publicDetail: `The ${name} header must hold <client_id>:<secret>, exactly as they were issued.`,
    });
  }
  const [, clientId, secret] = credentials as unknown as [string, string, string];
  // A route that takes no token of the gateway's own: refused without a call to the object.
  if (!acceptsIssuer(issuers, undefined)) {
    throw new GatewayError("client_invalid", {
      detail: `${name}: this route accepts no token of the gateway's own (issuers)`,
      ...challenge,
    });
  }

  const cache = cacheOf(context);
  const key = await keyOf(value);
  let cached = cache.tokens.get(key);
  if (cached !== undefined && cached.until <= context.now()) {
    cache.tokens.delete(key);
    cached = undefined;
  }
  cached ??= await exchanged(context, cache, key, { clientId, secret }, challenge);
  try {
    const pending = authenticateToken(
      context,
      { token: cached.token, source: "header", dpop: false },
      {
        refresh: false,
        issuers,
      },
    );
    return pending instanceof Promise ? await pending : pending;
  } catch (error) {
    if (!(error instanceof GatewayError) || !TOKEN_REFUSALS.has(error.code)) throw error;
    // Revoked (or no longer verifiable): the next request asks the object again.
    cache.tokens.delete(key);
    throw refusedClient(
      context,
      clientId,
      `token refused: ${error.detail ?? error.code}`,
      challenge,
      "service_token_header",
    );
  }
}

/** The token for these credentials: asked of the object once per key at a time, then kept. */
function exchanged(
  context: RequestContext,
  cache: TokenCache,
  key: string,
  presented: { readonly clientId: string; readonly secret: string },
  challenge: ClientChallenge,
): Promise<CachedToken> {
  const { tokens, inFlight } = cache;
  let pending = inFlight.get(key);
  if (pending === undefined) {
    pending = exchange(context, presented, challenge).then((minted) => {
      if (minted.until > context.now()) {
        if (tokens.size >= MAX_CACHED_SERVICE_TOKENS) tokens.delete(tokens.keys().next().value as string);
        tokens.set(key, minted);
      }
      return minted;
    });
    inFlight.set(key, pending);
    // Gone once settled, whichever way; the callers see the outcome through `pending` itself.
    pending.finally(() => inFlight.delete(key)).catch(() => undefined);
  }
  return pending;
}

/** What POST /auth/token does for client_secret_basic, without a form: the same checks, limits and token. */
async function exchange(
  context: RequestContext,
  presented: { readonly clientId: string; readonly secret: string },
  challenge: ClientChallenge,
): Promise<CachedToken> {
  const namespace = context.env.SERVICE_CLIENTS;
  if (namespace === undefined) {
    // The config refuses SERVICE_TOKEN_HEADER without the binding (config/bindings.ts).
    throw new GatewayError("misconfigured", { detail: "SERVICE_TOKEN_HEADER without SERVICE_CLIENTS" });
  }
  await enforceRateLimit(context, "REFRESH_IP_LIMIT", ipKey(context));
  const clients = namespace.get(namespace.idFromName(SERVICE_CLIENTS_INSTANCE));
  const method = "service_token_header";
  const client = await authenticateBySecret(context, clients, presented, challenge, method);
  const issued = await issueServiceToken(context, client, client.scopes, challenge, method);
  const until = Math.min(
    context.now() + SERVICE_TOKEN_CACHE_SECONDS * 1000,
    (issued.exp - EXPIRY_MARGIN_SECONDS) * 1000,
  );
  return { token: issued.token, until };
}
