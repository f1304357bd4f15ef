/**
 * Header work on every proxied request: finding the token, building what the upstream
 * receives (hop-by-hop, identity and forwarding headers, cookie filtering), re-wrapping
 * the upstream's answer, and the headers a transparent refresh adds.
 */
import { bench, describe } from "vitest";
import { withoutGatewayCookies } from "../../src/http/cookies";
import { applyRefresh } from "../../src/http/token-response";
import { readIncomingHeaders, upstreamHeaders, upstreamRequestInit } from "../../src/proxy/upstream-request";
import type { GrantedTokens } from "../../src/sessions/sessions";
import { claimsOfIssued } from "../../src/tokens/access-token-claims";
import { readAccessToken } from "../../src/tokens/read-credentials";
import { TEST_SECRETS } from "../../test/support/test-keys";
import { configWith } from "./fixtures";

const token = `eyJhbGciOiJFZERTQSJ9.${"a".repeat(300)}.${"b".repeat(86)}`;
const incoming = new Request("https://gateway.test/api/items?page=1", {
  headers: {
    host: "gateway.test",
    "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    accept: "application/json",
    "accept-language": "en-GB,en;q=0.9",
    "accept-encoding": "gzip, br",
    authorization: `Bearer ${token}`,
    cookie: `__Host-portcullis-refresh=${"r".repeat(66)}; theme=dark; _ga=GA1.2.3`,
    connection: "keep-alive",
    "x-auth-subject": "forged",
    "cf-connecting-ip": "203.0.113.7",
  },
});
const granted = {
  accessToken: { token, jti: crypto.randomUUID(), exp: 2_000_000_900, expiresIn: 900 },
  refreshToken: "r".repeat(66),
  refreshMaxAge: 2_592_000,
  session: {
    sid: "AAAAAAAAAAAAAAAAAAAAAA",
    sub: "user-alice",
    scope: ["read", "write"],
    roles: ["member"],
    createdAt: 1_900_000_000_000,
    expiresAt: 2_000_000_000_000,
  },
  rotated: true,
} satisfies GrantedTokens;
const claims = claimsOfIssued(granted);
const config = configWith({ ACCESS_SECRET: TEST_SECRETS.ACCESS_SECRET });
const options = {
  method: incoming.method,
  url: new URL(incoming.url),
  href: incoming.url,
  incoming: readIncomingHeaders(incoming.headers),
  identity: { claims, token },
};

describe("request side", () => {
  bench("readAccessToken", () => {
    readAccessToken(readIncomingHeaders(incoming.headers));
  });
  bench("withoutGatewayCookies", () => {
    withoutGatewayCookies(incoming.headers.get("cookie"));
  });
  bench("readIncomingHeaders", () => {
    readIncomingHeaders(incoming.headers);
  });
  bench("upstreamHeaders", () => {
    upstreamHeaders(options);
  });
  bench("upstreamRequestInit", () => {
    upstreamRequestInit(incoming, options);
  });
});

describe("response side", () => {
  const upstreamAnswer = new Response("{}", {
    headers: {
      "content-type": "application/json",
      "x-upstream": "yes",
      "set-cookie": "app=1; Path=/",
      "keep-alive": "timeout=5",
    },
  });
  bench("re-wrap the upstream answer (new Headers + new Response)", () => {
    const headers = new Headers(upstreamAnswer.headers);
    for (const name of ["keep-alive", "proxy-connection", "transfer-encoding", "trailer"]) headers.delete(name);
    new Response(null, { status: upstreamAnswer.status, headers });
  });
  bench("applyRefresh (cookies + Authorization)", () => {
    applyRefresh(new Headers(upstreamAnswer.headers), config, granted, false);
  });
});
