/**
 * The gateway pipeline for every request that is not an auth endpoint:
 *
 *   0. the canonical request (envelope.ts, canonical-request.ts): every step below, and the
 *      upstream, see the one canonical path and method
 *   1. route policy: public, or protected (with scopes/roles), the strictest over every
 *      reading of the path an upstream could route by
 *   2–5. authenticate: read, verify, refresh transparently, check revocation (authenticate.ts);
 *        on `revocation = "strict"` routes, also ask the session's object. A service client's
 *        SERVICE_TOKEN_HEADER is first exchanged for its token (service-token-header.ts)
 *   6. authorization (scopes/roles of the route; a DPoP-bound token where the route says `dpop`;
 *      the conditions the route `require`s, route-conditions.ts; last, the services its
 *      `decision` asks, route-decisions.ts)
 *   7. forward upstream with identity headers (and the signed assertion, UPSTREAM_ASSERTION); stream both ways
 *   8. on the way back, the rotated cookie and new access token
 */

import type { UpstreamAssertionConfig } from "../config/config";
import { GatewayError } from "../errors/gateway-error";
import { log } from "../log/logger";
import { missingGrants, type ProtectedDecision } from "../policy/route-policy";
import { sendUpstream, upstreamPath, upstreamUrl } from "../proxy/forward";
import { type Identity, upstreamRequestInit } from "../proxy/upstream-request";
import { relayWebSocket } from "../proxy/websocket-relay";
import type { AccessTokenClaims } from "../tokens/access-token-claims";
import type { SigningKey } from "../tokens/key-ring";
import { upstreamAssertion } from "../tokens/upstream-assertion";
import { answerError } from "./answer-error";
import { type Authenticated, answerRefresh, authenticate } from "./authenticate";
import type { RequestContext } from "./request-context";
import { assertAuthentication, assertConditions } from "./route-conditions";
import { assertDecisions } from "./route-decisions";
import { readsAsWithin, routeOf } from "./route-of";
import { answerNonce, dpopTokenRefused } from "./sender-constraint";
import { authenticateServiceTokenHeader } from "./service-token-header";

export async function handleGatewayRequest(context: RequestContext, request: Request): Promise<Response> {
  const { config, path } = context;
  if (readsAsWithin(context, config.credentialCheckPath)) {
    // The upstream's credential check is for the gateway alone, under any spelling.
    return new Response(null, { status: 404 });
  }

  const route = routeOf(context);
  if (route.access === "public") return counted(context, await forward(context, request, path, undefined));

  // A route naming `issuers` accepts those issuers' tokens; any other, the gateway's own alone.
  // SERVICE_TOKEN_HEADER (read only where it is on): a service client's secret, exchanged here.
  const pending =
    context.incoming.serviceToken === null
      ? authenticate(
          context,
          request,
          route.issuers === undefined ? undefined : { refresh: true, issuers: route.issuers },
        )
      : authenticateServiceTokenHeader(context, route.issuers);
  const authenticated = pending instanceof Promise ? await pending : pending;
  const nonce = authenticated.proof !== undefined && context.config.dpop.nonceSecrets !== undefined;
  if (authenticated.refreshed === undefined && !nonce) {
    return authorizeAndForward(context, request, route, authenticated);
  }
  // The session was rotated on the way: whatever is answered now must hand the new tokens
  // back, a refusal too, or the client keeps the replaced refresh token, and its next use,
  // after the grace window, would end the session as reuse. With DPOP_NONCE, every answer
  // to a proof names the nonce to use next.
  let response: Response;
  try {
    response = await authorizeAndForward(context, request, route, authenticated);
  } catch (error) {
    response = await answerError(error, context, request);
  }
  if (response.status !== 101) {
    answerRefresh(context, response.headers, authenticated);
    if (nonce) await answerNonce(context, response.headers);
  }
  return response;
}

/** Steps 6–8 for an authenticated request: the route's grants, then the upstream. */
async function authorizeAndForward(
  context: RequestContext,
  request: Request,
  route: ProtectedDecision,
  authenticated: Authenticated,
): Promise<Response> {
  const { config, path } = context;
  const { claims, refreshed } = authenticated;
  let { token } = authenticated;
  if (route.dpop && claims.jkt === undefined) throw dpopTokenRefused("the route requires a DPoP-bound token");
  if (route.strictRevocation && refreshed === undefined) await assertSessionAlive(context, authenticated);

  const missing = missingGrants(route, claims);
  if (missing.scopes.length > 0 || missing.roles.length > 0) {
    throw new GatewayError("insufficient_scope", {
      detail: `missing scopes [${missing.scopes.join(" ")}] roles [${missing.roles.join(" ")}]`,
      requiredScopes: route.scopes,
    });
  }
  assertConditions(context, request, route, claims);
  assertAuthentication(context, route, claims);
  if (route.audienceConflict) {
    // UPSTREAM_ASSERTION: which service behind the upstream gets this path depends on how it
    // reads it, so no audience is right (route-policy.ts).
    throw new GatewayError("request_invalid", {
      detail: "the path's readings are decided by route rules with different assertion audiences",
    });
  }
  // Last: a subrequest per uncached request, only for requests every cheaper check let through.
  if (route.decisions !== undefined) await assertDecisions(context, request, route, claims);

  // OIDC_FORWARD_IDP_TOKEN: the upstream gets the provider's (fresh) access token instead of ours.
  if (config.oidc?.forwardIdpToken && claims.sid !== undefined) {
    token = refreshed?.idpAccessToken ?? (await context.sessions.idpAccessToken(claims.sid)) ?? token;
  }
  // A bound token goes on with the client's proof, which was made for it (not after a refresh).
  const bound =
    claims.jkt !== undefined && token === authenticated.token
      ? { proof: refreshed === undefined ? (context.incoming.dpop ?? undefined) : undefined }
      : undefined;
  let assertion =
    config.upstreamAssertion === undefined ? undefined : assertionFor(context, route, claims, authenticated.token);
  if (assertion instanceof Promise) assertion = await assertion;
  const response = counted(context, await forward(context, request, path, { claims, token, bound, assertion }));
  // Each property of a Response is a call into the runtime: only read what this request can have.
  if (context.incoming.webSocket && response.webSocket) return relay(context, response, claims);
  return response;
}

/**
 * UPSTREAM_ASSERTION: the signed assertion for this request, bound to its method and to the
 * path exactly as the upstream receives it (UPSTREAM_URL's base path included), for the
 * route's audience.
 */
function assertionFor(
  context: RequestContext,
  route: ProtectedDecision,
  claims: AccessTokenClaims,
  token: string,
): string | Promise<string> {
  const { config, keys } = context;
  const settings = config.upstreamAssertion as UpstreamAssertionConfig;
  // The config refuses UPSTREAM_ASSERTION without SIGNING_KEYS, so there is a signer.
  const signer = keys.signer as SigningKey;
  return upstreamAssertion(claims, token, context.method, upstreamPath(context.upstream, context.path), signer, {
    issuer: config.issuer,
    audience: route.assertionAudience ?? settings.audience,
    ttlSeconds: settings.ttlSeconds,
    claims: settings.claims,
    now: context.now(),
  });
}

/**
 * Strict routes: the session's own object, strongly consistent, says whether it is alive,
 * so an ending anywhere bites here at once, whatever KV has propagated. A token without a
 * Portcullis session cannot be checked that way and is refused. Fails closed (503).
 */
async function assertSessionAlive(context: RequestContext, { claims, proof }: Authenticated): Promise<void> {
  if (claims.sid === undefined) {
    throw new GatewayError("token_revoked", { detail: "strict route: the token has no session to check" });
  }
  // With a DPoP proof, the object also keeps its jti: a replay anywhere in the world is refused.
  const alive = await context.sessions.isAlive(claims.sid, proof && { jti: proof.jti, until: proof.until });
  if (alive === "replayed") throw new GatewayError("dpop_proof_invalid", { detail: "strict route: jti replayed" });
  if (!alive) {
    log.info("token_revoked", { requestId: context.requestId, by: "session_object", sid: claims.sid });
    throw new GatewayError("token_revoked", { detail: "strict route: session ended" });
  }
}

/** An authenticated WebSocket lives no longer than its access token, nor past a revocation. */
function relay(context: RequestContext, response: Response, claims: AccessTokenClaims): Response {
  const { config } = context;
  return relayWebSocket(response.webSocket as WebSocket, response.headers, {
    expiresAt: (claims.exp + config.clockToleranceSeconds) * 1000,
    revalidateMs: config.websocketRevalidateSeconds * 1000,
    now: context.now,
    isRevoked: async () => (await context.revocations.revokedBecause(claims)) !== undefined,
    requestId: context.requestId,
  });
}

/** The upstream's answer, as a stream. Not an async function: one promise less per request. */
function forward(
  context: RequestContext,
  request: Request,
  path: string,
  identity: Identity | undefined,
): Promise<Response> {
  const { url, incoming } = context;
  const init = upstreamRequestInit(request, { method: context.method, url, href: context.href, incoming, identity });
  const target = upstreamUrl(context.upstream, url, path + url.search);
  return sendUpstream(context.upstream, target, init, incoming.webSocket, context.requestId);
}

/** The upstream's own failures, passed through as they are (502/504 of ours are counted where they are answered). */
function counted(context: RequestContext, response: Response): Response {
  if (response.status >= 500) context.metrics.record("upstream_error", `status_${response.status}`);
  return response;
}
