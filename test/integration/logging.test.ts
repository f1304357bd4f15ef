/**
 * Secrets stay secret: after a flow that exercises every security event, no token,
 * cookie, key or secret appears in any log line, every line is JSON, and every security
 * event carries a request id.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Gateway, startGateway } from "../support/gateway";
import { expiredTokenFor, login, REFRESH_COOKIE, refreshCookieHeader, setCookie } from "../support/session-helpers";
import { TEST_SECRETS } from "../support/test-keys";

let gateway: Gateway;
const secrets: string[] = [];

beforeAll(async () => {
  gateway = await startGateway({ rateLimits: "wrangler", vars: { REFRESH_GRACE_SECONDS: "0" } });
  const json = { "content-type": "application/json" };

  const session = await login(gateway);
  secrets.push(session.accessToken, session.refreshToken);
  const expired = await expiredTokenFor(gateway, session);
  secrets.push(expired);
  const refreshed = await gateway.fetch("/api/x", {
    headers: { authorization: `Bearer ${expired}`, cookie: refreshCookieHeader(session.refreshToken) },
  });
  const rotated = setCookie(refreshed, REFRESH_COOKIE)?.value ?? "";
  secrets.push(rotated, refreshed.headers.get("authorization")?.slice(7) ?? "");
  // Reuse of the first refresh token: a security event.
  await new Promise((resolve) => setTimeout(resolve, 5));
  await gateway.fetch("/auth/refresh", {
    method: "POST",
    headers: { cookie: refreshCookieHeader(session.refreshToken) },
  });
  // Failed logins until the per-account limit: two more kinds of security event.
  for (let index = 0; index < 6; index += 1) {
    await gateway.fetch("/auth/login", {
      method: "POST",
      headers: json,
      body: JSON.stringify({ username: "admin", password: `guess-${index}-secret-password` }),
    });
  }
  // Operator actions, one with a wrong token.
  await gateway.fetch("/auth/operator/revoke-subject", {
    method: "POST",
    headers: { ...json, authorization: "Bearer not-the-operator-token-0123456789" },
    body: JSON.stringify({ sub: "user-alice" }),
  });
  await gateway.fetch("/auth/operator/revoke-subject", {
    method: "POST",
    headers: { ...json, authorization: `Bearer ${TEST_SECRETS.OPERATOR_TOKEN}` },
    body: JSON.stringify({ sub: "user-alice" }),
  });
  const other = await login(gateway);
  secrets.push(other.accessToken, other.refreshToken);
  await gateway.fetch("/auth/logout", {
    method: "POST",
    headers: { authorization: `Bearer ${other.accessToken}`, cookie: refreshCookieHeader(other.refreshToken) },
  });
  // Every event the flow logs has arrived: the last security event, then everything on stdout.
  await gateway.waitForLog((line) => line.includes('"event":"logout"'));
  await gateway.flushLogs();
});
afterAll(() => gateway.close());

describe("logs", () => {
  it("never contain a token, cookie value, password, key or secret", () => {
    const all = gateway.logs.join("\n");
    const sensitive = [
      ...secrets.filter((value) => value.length > 0),
      // A JWT's payload and signature; a refresh token's secret half. (The session id before
      // the dot is not a secret: it is in every access token and logged on purpose.)
      ...secrets.flatMap((value) =>
        value
          .split(".")
          .slice(1)
          .filter((part) => part.length >= 20),
      ),
      TEST_SECRETS.CREDENTIAL_CHECK_SECRET,
      TEST_SECRETS.OPERATOR_TOKEN,
      "not-the-operator-token-0123456789",
      "guess-0-secret-password",
      "correct horse",
      gateway.key.privateJwk.d as string,
    ];
    for (const value of sensitive) expect(all).not.toContain(value);
  });

  it("are one JSON object per line", () => {
    const lines = gateway.logs.filter((line) => line.startsWith("{"));
    expect(lines.length).toBeGreaterThan(10);
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
  });

  it("record every security event with a request id", () => {
    const events = gateway.logs
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((entry) => entry.security === true);
    const names = new Set(events.map((entry) => entry.event));
    for (const expected of [
      "login_failed",
      "refresh_token_reuse",
      "rate_limited",
      "operator_auth_failed",
      "subject_revoked",
      "logout",
    ]) {
      expect(names, expected).toContain(expected);
    }
    for (const event of events) expect(event.requestId, String(event.event)).toMatch(/^[0-9a-f-]{36}$/);
  });
});
