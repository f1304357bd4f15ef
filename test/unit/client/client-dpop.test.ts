/**
 * portcullis/client with DPoP against a fake gateway that verifies every proof with jose
 * (fake-dpop-gateway.ts): which requests carry proofs, what they say, how DPoP tokens are
 * sent and adopted, the nonce retries, and the fallback to bearer tokens. Real clock:
 * proofs carry `iat`, and nothing here waits.
 */
import axios, { type InternalAxiosRequestConfig } from "axios";
import { base64url } from "jose";
import { beforeEach, describe, expect, it } from "vitest";
import {
  attachToAxios,
  createPortcullisClient,
  type DpopKeyStore,
  memoryKeyStore,
  type PortcullisClient,
  type PortcullisClientOptions,
} from "../../../src/client/index";
import { adapterFor } from "./axios-adapter";
import { FakeDpopGateway, GATEWAY } from "./fake-dpop-gateway";

let gateway: FakeDpopGateway;

function client(options: PortcullisClientOptions = {}): PortcullisClient {
  return createPortcullisClient({ gatewayUrl: GATEWAY, fetch: gateway.fetch, crossTab: false, ...options });
}

async function sha256(text: string): Promise<string> {
  return base64url.encode(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text))));
}

function claimsOf(token: string): { cnf?: { jkt?: string } } {
  return JSON.parse(new TextDecoder().decode(base64url.decode(token.split(".")[1] ?? "")));
}

beforeEach(() => {
  gateway = new FakeDpopGateway();
});

describe("DPoP-bound sessions", () => {
  it("logs in with a proof and gets a token bound to its key, which it sends as DPoP with a proof per call", async () => {
    const auth = client();
    await auth.login("alice", "wonderland");
    const [login] = gateway.callsTo("/auth/login");
    expect(login?.proof?.payload).toMatchObject({ htm: "POST", htu: `${GATEWAY}/auth/login` });
    expect(login?.proof?.payload.ath).toBeUndefined();
    expect(auth.tokenScheme).toBe("DPoP");

    const thumbprint = await auth.dpopThumbprint();
    expect(thumbprint).toBe(login?.proof?.thumbprint);

    expect((await auth.fetch("/api/items?page=2#top", { method: "PUT", body: "{}" })).status).toBe(200);
    expect((await auth.fetch("/api/items")).status).toBe(200);
    const calls = gateway.callsTo("/api/items");
    const token = calls[0]?.authorization?.replace(/^DPoP /, "") ?? "";
    expect(calls.map((call) => call.authorization)).toEqual([`DPoP ${token}`, `DPoP ${token}`]);
    expect(claimsOf(token).cnf?.jkt).toBe(thumbprint);
    expect(calls[0]?.proof?.payload).toMatchObject({
      htm: "PUT",
      htu: `${GATEWAY}/api/items`,
      ath: await sha256(token),
    });
    expect(calls[1]?.proof?.payload.htm).toBe("GET");
    expect(calls[0]?.proof?.payload.jti).not.toBe(calls[1]?.proof?.payload.jti);
  });

  it("proves the key at refresh (no ath) and at logout (ath over the token it ends)", async () => {
    const auth = client();
    await auth.login("alice", "wonderland");
    expect(await auth.resume()).toBe(true);
    gateway.expireTokens();
    expect((await auth.fetch("/api/me")).status).toBe(200); // refreshed after the 401
    const [refresh] = gateway.callsTo("/auth/refresh");
    expect(refresh?.proof?.payload).toMatchObject({ htm: "POST", htu: `${GATEWAY}/auth/refresh` });
    expect(refresh?.proof?.payload.ath).toBeUndefined();
    expect(refresh?.authorization).toBeNull();

    const token =
      gateway
        .callsTo("/api/me")
        .at(-1)
        ?.authorization?.replace(/^DPoP /, "") ?? "";
    await auth.logout();
    const [logout] = gateway.callsTo("/auth/logout");
    expect(logout?.authorization).toBe(`DPoP ${token}`);
    expect(logout?.proof?.payload).toMatchObject({ htu: `${GATEWAY}/auth/logout`, ath: await sha256(token) });
  });

  it("adopts a token the gateway refreshed transparently as a DPoP token", async () => {
    gateway.transparentRefresh = true;
    const auth = client({ proactiveRefresh: false });
    await auth.login("alice", "wonderland");
    gateway.expireTokens();
    expect((await auth.fetch("/api/me")).status).toBe(200);
    expect((await auth.fetch("/api/me")).status).toBe(200);
    const [first, second] = gateway.callsTo("/api/me");
    expect(second?.authorization).toMatch(/^DPoP /);
    expect(second?.authorization).not.toBe(first?.authorization);
    expect(gateway.callsTo("/auth/refresh")).toHaveLength(0);
    expect(auth.tokenScheme).toBe("DPoP");
  });

  it("signs with the same key in every client that shares the key store, so another tab can refresh", async () => {
    const store = memoryKeyStore();
    const first = client({ dpop: { keyStore: store } });
    const second = client({ dpop: { keyStore: store } });
    const [a, b] = await Promise.all([first.dpopThumbprint(), second.dpopThumbprint()]);
    expect(a).toBe(b);
    await first.login("alice", "wonderland");
    expect(await second.resume()).toBe(true);
    expect(second.tokenScheme).toBe("DPoP");
  });
});

describe("DPoP nonces", () => {
  it("sends login again once with the nonce of a 400 use_dpop_nonce", async () => {
    gateway.requireNonce = true;
    const auth = client();
    await auth.login("alice", "wonderland");
    const logins = gateway.callsTo("/auth/login");
    expect(logins).toHaveLength(2);
    expect(logins[1]?.proof?.payload.nonce).toBe("nonce-1");
    expect(auth.isAuthenticated).toBe(true);
  });

  it("sends a call again once with the nonce of a 401 use_dpop_nonce, and uses the latest nonce from then on", async () => {
    const auth = client();
    await auth.login("alice", "wonderland");
    gateway.requireNonce = true;
    const response = await auth.fetch("/api/me", { method: "POST", body: "kept" });
    expect(response.status).toBe(200);
    expect(gateway.callsTo("/api/me").map((call) => call.proof?.payload.nonce)).toEqual([undefined, "nonce-1"]);

    gateway.nonce = "nonce-2"; // the gateway moved on; the client learns it from the next answer
    expect((await auth.fetch("/api/me")).status).toBe(200);
    expect((await auth.fetch("/api/me")).status).toBe(200);
    expect(gateway.callsTo("/api/me").map((call) => call.proof?.payload.nonce)).toEqual([
      undefined,
      "nonce-1",
      "nonce-1",
      "nonce-2",
      "nonce-2",
    ]);
  });

  it("refreshes with the nonce instead of ending the session on a refresh's 400 use_dpop_nonce", async () => {
    const ended: string[] = [];
    const keyStore = memoryKeyStore();
    await client({ dpop: { keyStore } }).login("alice", "wonderland");
    gateway.requireNonce = true;
    // A second tab: its first refresh has no nonce yet.
    const tab = client({ dpop: { keyStore }, onSessionEnded: (reason) => ended.push(reason) });
    expect(await tab.resume()).toBe(true);
    const refreshes = gateway.callsTo("/auth/refresh");
    expect(refreshes.map((call) => call.proof?.payload.nonce)).toEqual([undefined, "nonce-1"]);
    expect(refreshes.map((call) => call.proof?.refusal)).toEqual(["use_dpop_nonce", undefined]);
    expect(ended).toEqual([]);
  });

  it("hands a second use_dpop_nonce in a row back to the caller instead of asking again", async () => {
    const keyStore = memoryKeyStore();
    await client({ dpop: { keyStore } }).login("alice", "wonderland");
    gateway.requireNonce = true;
    let counter = 0;
    // A gateway whose nonce has changed again by the time each request arrives.
    const restless = client({
      dpop: { keyStore },
      fetch: (input, init) => {
        gateway.nonce = `nonce-${++counter}`;
        return gateway.fetch(input, init);
      },
    });
    await expect(restless.login("alice", "wonderland")).rejects.toMatchObject({ code: "login_failed", status: 400 });
    expect(gateway.callsTo("/auth/login")).toHaveLength(3); // the first client's, then two

    const auth = client({ dpop: { keyStore } });
    await auth.login("alice", "wonderland");
    const patient = client({
      dpop: { keyStore },
      fetch: (input, init) => {
        gateway.nonce = `nonce-${++counter}`;
        return gateway.fetch(input, init);
      },
    });
    gateway.requireNonce = false;
    expect(await patient.resume()).toBe(true);
    gateway.requireNonce = true;
    expect((await patient.fetch("/api/me")).status).toBe(401);
    expect(gateway.callsTo("/api/me")).toHaveLength(2);
  });
});

describe("bearer tokens", () => {
  it("with dpop: false, sends no proofs and bearer tokens", async () => {
    const auth = client({ dpop: false });
    await auth.login("alice", "wonderland");
    await auth.fetch("/api/me");
    expect(gateway.calls.every((call) => call.proof === undefined)).toBe(true);
    expect(gateway.callsTo("/api/me")[0]?.authorization).toMatch(/^Bearer /);
    expect(auth.tokenScheme).toBe("Bearer");
    expect(await auth.dpopThumbprint()).toBeUndefined();
  });

  it("falls back to bearer tokens when no key can be made", async () => {
    const broken: DpopKeyStore = {
      get: () => Promise.reject(new Error("storage refused")),
      keep: () => Promise.reject(new Error("storage refused")),
    };
    const auth = client({ dpop: { keyStore: broken } });
    await auth.login("alice", "wonderland");
    expect((await auth.fetch("/api/me")).status).toBe(200);
    expect(gateway.calls.every((call) => call.proof === undefined)).toBe(true);
    expect(auth.tokenScheme).toBe("Bearer");
    expect(await auth.dpopThumbprint()).toBeUndefined();
  });
});

describe("axios adapter with DPoP", () => {
  const viaFakeGateway = (config: InternalAxiosRequestConfig) => adapterFor(gateway.fetch, GATEWAY)(config);

  it("sends the DPoP token with a proof for the request's method and URL, and retries once with a nonce", async () => {
    const auth = client();
    await auth.login("alice", "wonderland");
    const api = axios.create({ baseURL: GATEWAY, adapter: viaFakeGateway });
    attachToAxios(api, auth);
    expect((await api.delete("/api/items/7", { params: { force: 1 } })).status).toBe(200);
    const [call] = gateway.callsTo("/api/items/7");
    expect(call?.authorization).toMatch(/^DPoP /);
    expect(call?.proof?.payload).toMatchObject({ htm: "DELETE", htu: `${GATEWAY}/api/items/7` });

    gateway.requireNonce = true;
    expect((await api.get("/api/me")).status).toBe(200);
    expect(gateway.callsTo("/api/me").map((seen) => seen.proof?.payload.nonce)).toEqual([undefined, "nonce-1"]);
  });
});
