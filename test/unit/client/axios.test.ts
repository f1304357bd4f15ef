/**
 * The axios adapter on a real axios instance whose transport is the fake gateway.
 */
import axios, { AxiosError, type AxiosInstance, type InternalAxiosRequestConfig } from "axios";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { attachToAxios, createPortcullisClient, type PortcullisClient } from "../../../src/client/index";
import { adapterFor } from "./axios-adapter";
import { FakeGateway, GATEWAY } from "./fake-gateway";

let gateway: FakeGateway;
let client: PortcullisClient;
let api: AxiosInstance;

const viaFakeGateway = (config: InternalAxiosRequestConfig) => adapterFor(gateway.fetch, GATEWAY)(config);

beforeEach(async () => {
  vi.useFakeTimers({ now: new Date("2026-05-01T12:00:00Z"), toFake: ["Date"] });
  gateway = new FakeGateway();
  client = createPortcullisClient({ gatewayUrl: GATEWAY, fetch: gateway.fetch, crossTab: false });
  await client.login("alice", "wonderland");
  api = axios.create({ baseURL: GATEWAY, adapter: viaFakeGateway });
  attachToAxios(api, client);
  return () => vi.useRealTimers();
});

function sentAuthorization(): Array<string | null> {
  return gateway.calls.filter((call) => call.path.startsWith("/api/")).map((call) => call.authorization);
}

/**
 * An axios instance whose client does not refresh ahead of time, logged in, with the
 * clock moved past the token's expiry: its next call goes out with an expired token.
 */
async function axiosWithExpiredToken(): Promise<AxiosInstance> {
  const lazy = createPortcullisClient({
    gatewayUrl: GATEWAY,
    fetch: gateway.fetch,
    crossTab: false,
    proactiveRefresh: false,
  });
  await lazy.login("alice", "wonderland");
  const lazyApi = axios.create({ baseURL: GATEWAY, adapter: viaFakeGateway });
  attachToAxios(lazyApi, lazy);
  vi.advanceTimersByTime(61_000);
  return lazyApi;
}

describe("attachToAxios", () => {
  it("sends the access token to the gateway and none to other origins", async () => {
    expect((await api.get("/api/me")).status).toBe(200);
    await api.get("https://tracker.example/collect");
    expect(sentAuthorization()[0]).toMatch(/^Bearer /);
    expect(gateway.calls.at(-1)).toMatchObject({ path: "/collect", authorization: null });
  });

  it("refreshes once for ten calls refused with invalid_token and retries each once", async () => {
    const lazyApi = await axiosWithExpiredToken();
    const responses = await Promise.all(Array.from({ length: 10 }, () => lazyApi.post("/api/orders", "order")));
    expect(responses.map((response) => response.status)).toEqual(Array(10).fill(200));
    expect(gateway.callsTo("/auth/refresh")).toHaveLength(1);
    expect(gateway.callsTo("/api/orders")).toHaveLength(20);
    expect(gateway.callsTo("/api/orders").every((call) => call.body === "order")).toBe(true);
  });

  it("rejects with the 401 when the retried call is refused too, without looping", async () => {
    gateway.refuseAllTokens = true;
    const failure = await api.get("/api/me").catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(AxiosError);
    expect((failure as AxiosError).response?.status).toBe(401);
    expect(gateway.callsTo("/api/me")).toHaveLength(2);
    expect(gateway.callsTo("/auth/refresh")).toHaveLength(1);
  });

  it("adopts a token the gateway refreshed transparently", async () => {
    gateway.transparentRefresh = true;
    const lazyApi = await axiosWithExpiredToken();
    await lazyApi.get("/api/me");
    await lazyApi.get("/api/me");
    const [expired, adopted] = sentAuthorization();
    expect(adopted).not.toBe(expired);
    expect(gateway.callsTo("/auth/refresh")).toHaveLength(0);
  });

  it("leaves a caller's own Authorization alone, and stops when detached", async () => {
    await api.get("/api/me", { headers: { Authorization: "Bearer mine" } }).catch(() => undefined);
    const other = axios.create({ baseURL: GATEWAY, adapter: viaFakeGateway });
    const detach = attachToAxios(other, client);
    detach();
    await other.get("/api/me").catch(() => undefined);
    expect(sentAuthorization()).toEqual(["Bearer mine", null]);
    expect(gateway.callsTo("/auth/refresh")).toHaveLength(0);
  });
});
