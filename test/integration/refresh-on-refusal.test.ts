/**
 * A transparent refresh rotates the session before the request is authorized and
 * forwarded. Whatever is answered after that, a refusal or an upstream failure too, must
 * hand the new tokens back: a client left with the replaced refresh token would present it
 * again after the grace window, which is reuse, and the session would end.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Gateway, startGateway } from "../support/gateway";
import { expiredTokenFor, login, REFRESH_COOKIE, refreshCookieHeader, setCookie } from "../support/session-helpers";

let gateway: Gateway;
beforeAll(async () => {
  gateway = await startGateway({ vars: { REFRESH_GRACE_SECONDS: "0" } });
  gateway.upstream.route("/broken", (_request, response) => {
    response.socket?.destroy();
  });
});
afterAll(() => gateway.close());

async function refreshedAnswer(path: string) {
  const session = await login(gateway, "alice");
  const expired = await expiredTokenFor(gateway, session);
  const response = await gateway.fetch(path, {
    headers: { authorization: `Bearer ${expired}`, cookie: refreshCookieHeader(session.refreshToken) },
  });
  return { session, response };
}

describe("a transparent refresh followed by a refusal", () => {
  it.each([
    ["a route the session's scopes do not reach (403)", "/admin/stats", 403],
    ["an upstream that resets the connection (502)", "/broken", 502],
  ])("%s still hands back the rotated cookie and the new token", async (_name, path, status) => {
    const { session, response } = await refreshedAnswer(path);
    expect(response.status).toBe(status);
    await response.body?.cancel();
    const rotated = setCookie(response, REFRESH_COOKIE)?.value;
    expect(rotated).toBeDefined();
    expect(rotated).not.toBe(session.refreshToken);
    expect(response.headers.get("authorization")).toMatch(/^Bearer /);
    // The session lives on with the rotated cookie (with no grace window, the old one would be reuse).
    const next = await gateway.fetch("/auth/refresh", {
      method: "POST",
      headers: { cookie: refreshCookieHeader(rotated ?? "") },
    });
    expect(next.status).toBe(200);
    await next.body?.cancel();
  });
});
