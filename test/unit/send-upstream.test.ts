/**
 * A service binding whose fetch throws instead of rejecting: the request is answered 502,
 * not 500 and not left waiting for the deadline. Everything else about sending (timeouts,
 * resends, answer headers) is tested against a real upstream on loopback in the
 * integration tests (proxy, upstream-connections); a binding made here is the only way to
 * make a send throw synchronously.
 */
import { describe, expect, it } from "vitest";
import type { ConfigEnv } from "../../src/config/env";
import { parseConfig } from "../../src/config/parse-config";
import { GatewayError } from "../../src/errors/gateway-error";
import { sendUpstream, type Upstream } from "../../src/proxy/forward";

function upstreamWith(fetch: (url: string, init: RequestInit) => Promise<Response>): Upstream {
  const binding = { fetch } as unknown as Fetcher;
  const config = parseConfig({
    PORTCULLIS_ENV: "production",
    TOKEN_ISSUER: "https://auth.example.com",
    TOKEN_AUDIENCE: "example-api",
    ACCESS_SECRET: "a-shared-secret-that-is-long-enough-0123",
    UPSTREAM: binding,
  } as unknown as ConfigEnv);
  return { config, binding };
}

const GET: RequestInit = { method: "GET", headers: {}, body: null, redirect: "manual" };

async function failureOf(pending: Promise<Response>): Promise<GatewayError> {
  const error = await pending.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(GatewayError);
  return error as GatewayError;
}

describe("sendUpstream", () => {
  it("answers 502 when the binding throws instead of rejecting", async () => {
    const upstream = upstreamWith(() => {
      throw new TypeError("binding broke");
    });
    const error = await failureOf(sendUpstream(upstream, "https://upstream.test/a", GET));
    expect(error.code).toBe("upstream_unreachable");
  });
});
