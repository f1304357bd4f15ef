/**
 * Asking a decision service (src/decision/): the request carries the verified identity and
 * the request's facts and never a credential; the answer decides only when it is a 200
 * JSON object with a boolean `allow`; everything else fails closed with a reason for the
 * log; `cache_seconds` is honoured per rule, subject, session, method and path, in a
 * bounded map. Services are plain objects with `fetch`; the clock is handed in.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { askDecision, type DecisionService, verdictOf } from "../../src/decision/ask-decision";
import { DecisionCache } from "../../src/decision/decision-cache";
import { type DecisionFacts, decisionRequestBody } from "../../src/decision/decision-request";
import { judgeDecisions } from "../../src/decision/judge-decisions";
import { GatewayError } from "../../src/errors/gateway-error";
import { parseDecision } from "../../src/policy/external-decision";

const fail = (problem: string) => new Error(problem);
const POLICY = parseDecision({ service: "POLICY", timeout_ms: 100 }, 2, "/reports/*", fail);
const OTHER = parseDecision({ service: "OTHER" }, 3, "/reports", fail);

const FACTS: DecisionFacts = {
  sub: "user-ada",
  sid: "s1",
  scopes: new Set(["read", "reports"]),
  roles: new Set(["analyst"]),
  claims: { sub: "user-ada", sid: "s1", scope: "read reports", org: { id: "acme" } },
  method: "GET",
  path: "/reports/q1",
  clientIp: "203.0.113.7",
  country: "DE",
  asn: 13335,
  requestId: "req-1",
};

/** A service answering `answer` (or throwing it), recording what it was sent. */
function service(answer: () => Response | Promise<Response>) {
  const received: { request: Request; body: unknown }[] = [];
  const fetcher: DecisionService = {
    async fetch(request) {
      received.push({ request, body: await request.clone().json() });
      return answer();
    },
  };
  return { fetcher, received };
}

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status });

afterEach(() => {
  vi.useRealTimers();
});

describe("the request", () => {
  it("is a POST of the identity and the request's facts, and nothing else", async () => {
    const { fetcher, received } = service(() => json({ allow: true }));
    await askDecision(fetcher, POLICY, decisionRequestBody(POLICY, FACTS));
    const [{ request, body }] = received as [{ request: Request; body: unknown }];
    expect(request.method).toBe("POST");
    expect(new URL(request.url).pathname).toBe("/decision");
    expect([...request.headers.keys()].sort()).toEqual(["accept", "content-type"]);
    expect(body).toEqual({
      version: 1,
      request_id: "req-1",
      rule: { index: 2, path: "/reports/*" },
      subject: {
        sub: "user-ada",
        sid: "s1",
        scopes: ["read", "reports"],
        roles: ["analyst"],
        claims: { sub: "user-ada", sid: "s1", scope: "read reports", org: { id: "acme" } },
      },
      request: { method: "GET", path: "/reports/q1", client_ip: "203.0.113.7", country: "DE", asn: 13335 },
    });
  });

  it("leaves out what the request does not have", () => {
    const body = decisionRequestBody(POLICY, {
      ...FACTS,
      sid: undefined,
      clientIp: undefined,
      country: undefined,
      asn: undefined,
    });
    expect(body.subject).not.toHaveProperty("sid");
    expect(body.request).toEqual({ method: "GET", path: "/reports/q1" });
  });
});

describe("the answer", () => {
  it.each([
    ['{"allow": true}', { kind: "allow", cacheSeconds: 0 }],
    ['{"allow": false, "reason": "ignored"}', { kind: "deny", cacheSeconds: 0 }],
    ['{"allow": true, "cache_seconds": 300}', { kind: "allow", cacheSeconds: 300 }],
    ['{"allow": "true"}', { kind: "failed", reason: 'an answer without a boolean "allow"' }],
    ["{}", { kind: "failed", reason: 'an answer without a boolean "allow"' }],
    ["[true]", { kind: "failed", reason: "an answer that is not a JSON object" }],
    ["null", { kind: "failed", reason: "an answer that is not a JSON object" }],
    ["allow", { kind: "failed", reason: "an answer that is not JSON" }],
    ['{"allow": true, "cache_seconds": 301}', { kind: "failed" }],
    ['{"allow": true, "cache_seconds": -1}', { kind: "failed" }],
    ['{"allow": true, "cache_seconds": 1.5}', { kind: "failed" }],
    ['{"allow": true, "cache_seconds": "60"}', { kind: "failed" }],
  ])("%s", (text, verdict) => {
    expect(verdictOf(text)).toMatchObject(verdict);
  });

  it("decides nothing with another status, a body too long, bytes that are not UTF-8, or a failed call", async () => {
    const ask = (answer: () => Response | Promise<Response>) =>
      askDecision(service(answer).fetcher, POLICY, decisionRequestBody(POLICY, FACTS));
    expect(await ask(() => json({ allow: true }, 201))).toEqual({ kind: "failed", reason: "status 201" });
    expect(await ask(() => json({ allow: true }, 500))).toEqual({ kind: "failed", reason: "status 500" });
    expect(await ask(() => new Response(`{"allow": true, "pad": "${"x".repeat(9000)}"}`))).toEqual({
      kind: "failed",
      reason: "an answer longer than 8192 bytes",
    });
    expect(await ask(() => new Response(new Uint8Array([0x7b, 0xff, 0x7d])))).toMatchObject({ kind: "failed" });
    expect(
      await ask(() => {
        throw new TypeError("secret-looking message");
      }),
    ).toEqual({ kind: "failed", reason: "the call failed (TypeError)" });
  });

  it("gives up after timeout_ms, whether the answer's head or its body is late", async () => {
    vi.useFakeTimers();
    const never = new Promise<Response>(() => undefined);
    const pending = askDecision(service(() => never).fetcher, POLICY, decisionRequestBody(POLICY, FACTS));
    await vi.advanceTimersByTimeAsync(100);
    expect(await pending).toEqual({ kind: "failed", reason: "timeout after 100 ms", timeout: true });

    const slowBody = new ReadableStream({ start: (controller) => controller.enqueue(new TextEncoder().encode("{")) });
    const late = askDecision(service(() => new Response(slowBody)).fetcher, POLICY, decisionRequestBody(POLICY, FACTS));
    await vi.advanceTimersByTimeAsync(100);
    expect(await late).toMatchObject({ kind: "failed", timeout: true });
  });
});

describe("judgeDecisions", () => {
  const options = (services: Record<string, DecisionService>, cache = new DecisionCache(), now = () => 1_000_000) => ({
    serviceOf: (name: string) => services[name],
    cache,
    now,
  });
  const refusal = async (promise: Promise<void>) => {
    try {
      await promise;
    } catch (error) {
      return error as GatewayError;
    }
    return undefined;
  };

  it("passes when every decision allows", async () => {
    const policy = service(() => json({ allow: true }));
    const other = service(() => json({ allow: true }));
    await expect(
      judgeDecisions([POLICY, OTHER], FACTS, options({ POLICY: policy.fetcher, OTHER: other.fetcher })),
    ).resolves.toBeUndefined();
    expect([policy.received.length, other.received.length]).toEqual([1, 1]);
  });

  it("refuses access_denied naming the rule that denied, even when another failed", async () => {
    const policy = service(() => json({}, 502));
    const other = service(() => json({ allow: false }));
    const error = await refusal(
      judgeDecisions([POLICY, OTHER], FACTS, options({ POLICY: policy.fetcher, OTHER: other.fetcher })),
    );
    expect(error).toBeInstanceOf(GatewayError);
    expect(error).toMatchObject({ code: "access_denied", detail: "decision denied: rule 3 (/reports), service OTHER" });
  });

  it("fails closed, decision_unavailable with Retry-After, naming the rule and why", async () => {
    const policy = service(() => new Response("yes"));
    const error = await refusal(judgeDecisions([POLICY], FACTS, options({ POLICY: policy.fetcher })));
    expect(error).toMatchObject({
      code: "decision_unavailable",
      retryAfter: 5,
      detail: "decision failed: rule 2 (/reports/*), service POLICY: an answer that is not JSON",
    });
    const unbound = await refusal(judgeDecisions([POLICY], FACTS, options({})));
    expect(unbound?.detail).toBe("decision failed: rule 2 (/reports/*), service POLICY: the service is not bound");
  });

  it("remembers an answer for cache_seconds, for the same subject, session, method and path only", async () => {
    let allow = true;
    const policy = service(() => json({ allow, cache_seconds: 60 }));
    let now = 1_000_000;
    const settings = options({ POLICY: policy.fetcher }, new DecisionCache(), () => now);
    await judgeDecisions([POLICY], FACTS, settings);
    allow = false;
    await judgeDecisions([POLICY], FACTS, settings);
    expect(policy.received).toHaveLength(1);
    for (const other of [
      { sub: "user-bob" },
      { sid: "s2" },
      { sid: undefined },
      { method: "POST" },
      { path: "/reports/q2" },
    ]) {
      expect((await refusal(judgeDecisions([POLICY], { ...FACTS, ...other }, settings)))?.code).toBe("access_denied");
    }
    expect(policy.received).toHaveLength(6);
    // Denials are remembered too; after cache_seconds the service is asked again.
    await refusal(judgeDecisions([POLICY], { ...FACTS, sub: "user-bob" }, settings));
    expect(policy.received).toHaveLength(6);
    now += 60_000;
    expect((await refusal(judgeDecisions([POLICY], FACTS, settings)))?.code).toBe("access_denied");
    expect(policy.received).toHaveLength(7);
  });

  it("never remembers a failure, nor an answer without cache_seconds", async () => {
    let status = 500;
    const policy = service(() => json({ allow: true }, status));
    const settings = options({ POLICY: policy.fetcher });
    await refusal(judgeDecisions([POLICY], FACTS, settings));
    status = 200;
    await judgeDecisions([POLICY], FACTS, settings);
    await judgeDecisions([POLICY], FACTS, settings);
    expect(policy.received).toHaveLength(3);
  });
});

describe("DecisionCache", () => {
  const key = (path: string) => ({ sub: "a", sid: undefined, method: "GET", path });

  it("holds at most its limit, dropping the oldest write first", () => {
    const cache = new DecisionCache(3);
    for (const path of ["/1", "/2", "/3"]) cache.set(POLICY, key(path), true, 60, 0);
    cache.set(POLICY, key("/1"), false, 60, 0);
    cache.set(POLICY, key("/4"), true, 60, 0);
    expect(cache.size).toBe(3);
    expect(cache.get(POLICY, key("/2"), 1)).toBeUndefined();
    expect(cache.get(POLICY, key("/1"), 1)).toBe(false);
    expect(cache.get(POLICY, key("/3"), 1)).toBe(true);
  });

  it("keeps the rules apart, and stores nothing for 0 seconds", () => {
    const cache = new DecisionCache();
    cache.set(POLICY, key("/a"), true, 60, 0);
    expect(cache.get(OTHER, key("/a"), 1)).toBeUndefined();
    cache.set(OTHER, key("/b"), true, 0, 0);
    expect(cache.size).toBe(1);
  });
});
