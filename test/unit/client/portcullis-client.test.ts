/**
 * portcullis/client against a fake gateway that keeps the client contract, with a frozen
 * clock: when it refreshes, how many refreshes concurrent calls cause, what it does
 * with 401s and with a token the gateway refreshed, and how sessions end.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  createPortcullisClient,
  type PortcullisClient,
  PortcullisClientError,
  type PortcullisClientOptions,
  type SessionEndReason,
  type TokenChange,
} from "../../../src/client/index";
import { FakeGateway, GATEWAY } from "./fake-gateway";

let gateway: FakeGateway;
let ended: SessionEndReason[];
let changes: TokenChange[];

function client(options: PortcullisClientOptions = {}): PortcullisClient {
  return createPortcullisClient({
    gatewayUrl: GATEWAY,
    fetch: gateway.fetch,
    crossTab: false,
    onSessionEnded: (reason) => ended.push(reason),
    onTokenChange: (change) => changes.push(change),
    ...options,
  });
}

async function loggedIn(options: PortcullisClientOptions = {}): Promise<PortcullisClient> {
  const created = client(options);
  await created.login("alice", "wonderland");
  return created;
}

function bearerOf(path: string): Array<string | null> {
  return gateway.callsTo(path).map((call) => call.authorization);
}

beforeEach(() => {
  vi.useFakeTimers({ now: new Date("2026-05-01T12:00:00Z"), toFake: ["Date", "setTimeout", "clearTimeout"] });
  gateway = new FakeGateway();
  ended = [];
  changes = [];
});
afterEach(() => {
  vi.useRealTimers();
});

describe("login", () => {
  it("keeps the access token and sends it as a Bearer token to the gateway", async () => {
    const auth = await loggedIn();
    const response = await auth.fetch("/api/me");
    expect(response.status).toBe(200);
    expect(auth.isAuthenticated).toBe(true);
    expect(auth.sessionId).toBe("sid-1");
    expect(auth.expiresAt).toBe(Date.now() + 60_000);
    expect(bearerOf("/api/me")[0]).toMatch(/^Bearer [\w-]+\.[\w-]+\.sig$/);
    expect(changes.map((change) => change.source)).toEqual(["login"]);
  });

  it.each([
    [401, "credentials_invalid"],
    [429, "rate_limited"],
    [503, "login_failed"],
  ] as const)("turns a %i from the gateway into the error code %s", async (status, code) => {
    const auth = client({
      fetch: async () => new Response(null, { status, headers: { "retry-after": "30" } }),
    });
    const failure = await auth.login("alice", "x").catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(PortcullisClientError);
    expect(failure).toMatchObject({ code, status });
    if (code === "rate_limited") expect(failure).toMatchObject({ retryAfterSeconds: 30 });
    expect(auth.isAuthenticated).toBe(false);
  });

  it("reports wrong credentials from the gateway as credentials_invalid", async () => {
    const failure = await client()
      .login("alice", "wrong")
      .catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: "credentials_invalid" });
  });

  it("reports an unreachable gateway as network_error", async () => {
    const auth = client({ fetch: () => Promise.reject(new TypeError("fetch failed")) });
    await expect(auth.login("alice", "wonderland")).rejects.toMatchObject({ code: "network_error" });
  });
});

describe("proactive refresh", () => {
  it("does not refresh before the skew, and refreshes once inside it before sending", async () => {
    const auth = await loggedIn({ refreshSkewSeconds: 10 });
    vi.advanceTimersByTime(49_000);
    await auth.fetch("/api/me");
    expect(gateway.callsTo("/auth/refresh")).toHaveLength(0);

    vi.advanceTimersByTime(2_000);
    const response = await auth.fetch("/api/me");
    expect(response.status).toBe(200);
    expect(gateway.callsTo("/auth/refresh")).toHaveLength(1);
    const [first, second] = bearerOf("/api/me");
    expect(second).not.toBe(first);
    expect(changes.map((change) => change.source)).toEqual(["login", "refresh"]);
  });

  it("refreshes a short-lived token at half its life at the latest", async () => {
    gateway.ttlSeconds = 6;
    const auth = await loggedIn({ refreshSkewSeconds: 10 });
    vi.advanceTimersByTime(2_000);
    await auth.fetch("/api/me");
    expect(gateway.callsTo("/auth/refresh")).toHaveLength(0);
    vi.advanceTimersByTime(1_500);
    await auth.fetch("/api/me");
    expect(gateway.callsTo("/auth/refresh")).toHaveLength(1);
  });

  it("refreshes an expired token once for ten concurrent calls, which all carry the new token", async () => {
    const auth = await loggedIn();
    vi.advanceTimersByTime(61_000);
    let open: () => void = () => undefined;
    gateway.refreshGate = new Promise((resolve) => {
      open = resolve;
    });
    const pending = Array.from({ length: 10 }, () => auth.fetch("/api/me"));
    await vi.waitFor(() => expect(gateway.callsTo("/auth/refresh")).toHaveLength(1));
    open();
    const statuses = (await Promise.all(pending)).map((response) => response.status);

    expect(statuses).toEqual(Array(10).fill(200));
    expect(gateway.callsTo("/auth/refresh")).toHaveLength(1);
    expect(new Set(bearerOf("/api/me")).size).toBe(1);
  });

  it("refreshes again when the next token is due: the single flight does not stick", async () => {
    const auth = await loggedIn();
    vi.advanceTimersByTime(55_000);
    await auth.fetch("/api/me");
    vi.advanceTimersByTime(55_000);
    await auth.fetch("/api/me");
    expect(gateway.callsTo("/auth/refresh")).toHaveLength(2);
    expect(new Set(bearerOf("/api/me")).size).toBe(2);
  });

  it("with proactiveRefresh off, sends the expired token and lets the gateway refresh it", async () => {
    gateway.transparentRefresh = true;
    const auth = await loggedIn({ proactiveRefresh: false });
    const loginToken = bearerOf("/auth/login");
    expect(loginToken).toEqual([null]);
    vi.advanceTimersByTime(61_000);
    await auth.fetch("/api/me");
    await auth.fetch("/api/me");
    const [expired, adopted] = bearerOf("/api/me");
    expect(gateway.callsTo("/auth/refresh")).toHaveLength(0);
    expect(adopted).not.toBe(expired);
    expect(changes.map((change) => change.source)).toEqual(["login", "gateway"]);
    expect(auth.expiresAt).toBe(Date.now() + 60_000);
  });
});

describe("401 invalid_token", () => {
  it("refreshes once and sends the call again, body included", async () => {
    const auth = await loggedIn({ proactiveRefresh: false });
    vi.advanceTimersByTime(61_000);
    const response = await auth.fetch("/api/orders", { method: "POST", body: "order-1" });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true, body: "order-1" });
    const calls = gateway.callsTo("/api/orders");
    expect(calls.map((call) => call.body)).toEqual(["order-1", "order-1"]);
    expect(calls[1]?.authorization).not.toBe(calls[0]?.authorization);
    expect(gateway.callsTo("/auth/refresh")).toHaveLength(1);
  });

  it("refreshes once for ten calls refused at the same time", async () => {
    const auth = await loggedIn({ proactiveRefresh: false });
    vi.advanceTimersByTime(61_000);
    const responses = await Promise.all(Array.from({ length: 10 }, () => auth.fetch("/api/me")));
    expect(responses.map((response) => response.status)).toEqual(Array(10).fill(200));
    expect(gateway.callsTo("/auth/refresh")).toHaveLength(1);
    expect(gateway.callsTo("/api/me")).toHaveLength(20);
  });

  it("retries only once: when the new token is refused too, the 401 is handed back", async () => {
    const auth = await loggedIn();
    gateway.refuseAllTokens = true;
    const response = await auth.fetch("/api/me");
    expect(response.status).toBe(401);
    expect(gateway.callsTo("/api/me")).toHaveLength(2);
    expect(gateway.callsTo("/auth/refresh")).toHaveLength(1);
    expect(ended).toEqual([]);
  });

  it("leaves a request that carries its own Authorization alone", async () => {
    const auth = await loggedIn();
    const response = await auth.fetch("/api/me", { headers: { authorization: "Bearer someone-elses" } });
    expect(response.status).toBe(401);
    expect(bearerOf("/api/me")).toEqual(["Bearer someone-elses"]);
    expect(gateway.callsTo("/auth/refresh")).toHaveLength(0);
  });

  it("retries without refreshing when another call refreshed after this one was sent", async () => {
    const auth = await loggedIn();
    await auth.fetch("/api/me");
    const [sentWith] = bearerOf("/api/me");
    vi.advanceTimersByTime(55_000);
    await auth.fetch("/api/me"); // refreshes
    const invalidToken = (name: string) => (name === "www-authenticate" ? 'Bearer error="invalid_token"' : null);
    expect(await auth.afterResponse(sentWith?.replace("Bearer ", ""), 401, invalidToken)).toBe(true);
    expect(gateway.callsTo("/auth/refresh")).toHaveLength(1);
  });

  it("does not refresh for a 401 without invalid_token (no token was sent)", async () => {
    const auth = client();
    const response = await auth.fetch("/api/me");
    expect(response.status).toBe(401);
    expect(gateway.callsTo("/auth/refresh")).toHaveLength(0);
    expect(bearerOf("/api/me")).toEqual([null]);
  });
});

describe("tokens the gateway refreshed", () => {
  it("never replaces a newer token with an older one from a late answer", async () => {
    const auth = await loggedIn();
    const older = gateway.mint("sid-1");
    const newer = gateway.mint("sid-1");
    await auth.afterResponse(undefined, 200, (name) => (name === "authorization" ? `Bearer ${newer}` : null));
    await auth.afterResponse(undefined, 200, (name) => (name === "authorization" ? `Bearer ${older}` : null));
    await auth.fetch("/api/me");
    expect(bearerOf("/api/me")).toEqual([`Bearer ${newer}`]);
  });

  it("ignores a gateway token once the session has ended", async () => {
    const auth = await loggedIn();
    await auth.logout();
    const late = gateway.mint("sid-1");
    await auth.afterResponse(undefined, 200, (name) => (name === "authorization" ? `Bearer ${late}` : null));
    expect(auth.isAuthenticated).toBe(false);
  });
});

describe("the end of a session", () => {
  it("reports a refused refresh once, however many calls saw it", async () => {
    const auth = await loggedIn();
    gateway.revoke("sid-1");
    const responses = await Promise.all(Array.from({ length: 10 }, () => auth.fetch("/api/me")));
    expect(responses.map((response) => response.status)).toEqual(Array(10).fill(401));
    expect(gateway.callsTo("/auth/refresh")).toHaveLength(1);
    expect(ended).toEqual(["refresh_rejected"]);
    expect(auth.isAuthenticated).toBe(false);

    await auth.fetch("/api/me");
    expect(bearerOf("/api/me").at(-1)).toBeNull();
    expect(gateway.callsTo("/auth/refresh")).toHaveLength(1);
    expect(ended).toEqual(["refresh_rejected"]);
  });

  it.each([503, 429, "network"] as const)(
    "keeps the session when the refresh fails for a passing reason (%s) and tries again later",
    async (failure) => {
      const auth = await loggedIn();
      vi.advanceTimersByTime(55_000);
      gateway.refreshFailures.push(failure);
      const response = await auth.fetch("/api/me");
      expect(response.status).toBe(200); // the old token was still good
      expect(ended).toEqual([]);
      expect(auth.isAuthenticated).toBe(true);
      await auth.fetch("/api/me");
      expect(gateway.callsTo("/auth/refresh")).toHaveLength(2);
      expect(new Set(bearerOf("/api/me")).size).toBe(2);
    },
  );

  it("gives up on a refresh that hangs after requestTimeoutMs, and does not hang the call", async () => {
    const auth = await loggedIn({ requestTimeoutMs: 5_000 });
    vi.advanceTimersByTime(55_000);
    gateway.refreshFailures.push("hang");
    const pending = auth.fetch("/api/me");
    await vi.waitFor(() => expect(gateway.callsTo("/auth/refresh")).toHaveLength(1));
    await vi.advanceTimersByTimeAsync(5_000);
    expect((await pending).status).toBe(200);
    expect(ended).toEqual([]);
  });

  it("logs out at the gateway with the token, reports it once, and sends no token afterwards", async () => {
    const auth = await loggedIn();
    await auth.logout();
    expect(bearerOf("/auth/logout")[0]).toMatch(/^Bearer /);
    expect(ended).toEqual(["logout"]);
    await auth.fetch("/api/me");
    expect(bearerOf("/api/me")).toEqual([null]);
    await auth.logout();
    expect(ended).toEqual(["logout"]);
  });

  it("hands back the provider's end-session URL when logging out of an OIDC session", async () => {
    const auth = await loggedIn();
    gateway.endSessionUrl = "https://idp.example/logout?id_token_hint=x&state=y";
    expect(await auth.logout()).toEqual({ endSessionUrl: "https://idp.example/logout?id_token_hint=x&state=y" });
    gateway.endSessionUrl = undefined;
    expect(await auth.logout()).toEqual({});
  });

  it("does not let a refresh that was under way revive a session logged out meanwhile", async () => {
    const auth = await loggedIn();
    vi.advanceTimersByTime(55_000);
    let open: () => void = () => undefined;
    gateway.refreshGate = new Promise((resolve) => {
      open = resolve;
    });
    gateway.revoke = () => undefined; // the gateway still answers the refresh with a token
    const call = auth.fetch("/api/me");
    await vi.waitFor(() => expect(gateway.callsTo("/auth/refresh")).toHaveLength(1));
    const loggingOut = auth.logout();
    open();
    await Promise.all([call, loggingOut]);
    expect(auth.isAuthenticated).toBe(false);
    expect(changes.map((change) => change.source)).toEqual(["login"]);
  });
});

describe("resume after a page load", () => {
  it("picks up the session from the refresh cookie", async () => {
    gateway.startSession();
    const auth = client();
    expect(await auth.resume()).toBe(true);
    expect(changes.map((change) => change.source)).toEqual(["resume"]);
  });

  it("finds no session without a cookie, and reports no ended session", async () => {
    const auth = client();
    expect(await auth.resume()).toBe(false);
    expect(ended).toEqual([]);
  });
});

describe("where the token goes", () => {
  it("sends no token to another origin", async () => {
    const auth = await loggedIn();
    await auth.fetch("https://tracker.example/collect");
    const call = gateway.calls.at(-1);
    expect(call?.path).toBe("/collect");
    expect(call?.authorization).toBeNull();
    expect(auth.authorizes("https://tracker.example/")).toBe(false);
    expect(auth.authorizes("/api/me")).toBe(true);
  });
});

describe("options", () => {
  it("needs a gatewayUrl outside a browser page", () => {
    expect(() => createPortcullisClient({ fetch: gateway.fetch, crossTab: false })).toThrow(
      expect.objectContaining({ code: "invalid_options" }),
    );
  });

  it.each([{ refreshSkewSeconds: -1 }, { requestTimeoutMs: 0 }, { gatewayUrl: "not a url" }])(
    "refuses %o",
    (options) => {
      expect(() => client(options)).toThrow(expect.objectContaining({ code: "invalid_options" }));
    },
  );
});
