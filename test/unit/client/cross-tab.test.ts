/**
 * Two clients in one process stand for two tabs: they share the fake gateway (one
 * cookie jar), a real BroadcastChannel (Node's) and a lock manager that behaves like
 * `navigator.locks`.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createPortcullisClient, type LockManagerLike, type PortcullisClient } from "../../../src/client/index";
import { FakeGateway, GATEWAY } from "./fake-gateway";

/** Exclusive, FIFO, with `ifAvailable`, like the Web Locks API. */
class FakeLocks implements LockManagerLike {
  readonly #queues = new Map<string, Promise<void>>();
  readonly #held = new Set<string>();

  async request<T>(name: string, options: { ifAvailable?: boolean }, callback: (lock: unknown) => Promise<T>) {
    if (options.ifAvailable && (this.#held.has(name) || this.#queues.has(name))) return callback(null);
    const previous = this.#queues.get(name) ?? Promise.resolve();
    let release: () => void = () => undefined;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => mine);
    this.#queues.set(name, tail);
    await previous;
    this.#held.add(name);
    try {
      return await callback({ name });
    } finally {
      this.#held.delete(name);
      release();
      if (this.#queues.get(name) === tail) this.#queues.delete(name);
    }
  }
}

interface Tab {
  readonly client: PortcullisClient;
  readonly ended: string[];
  readonly sources: string[];
}

let gateway: FakeGateway;
let channelName: string;
let locks: FakeLocks;
const tabs: Tab[] = [];

function openTab(): Tab {
  const ended: string[] = [];
  const sources: string[] = [];
  const client = createPortcullisClient({
    gatewayUrl: GATEWAY,
    fetch: gateway.fetch,
    crossTab: { name: channelName, channel: new BroadcastChannel(channelName), locks },
    onSessionEnded: (reason) => ended.push(reason),
    onTokenChange: (change) => sources.push(change.source),
  });
  const tab = { client, ended, sources };
  tabs.push(tab);
  return tab;
}

beforeEach(() => {
  vi.useFakeTimers({ now: new Date("2026-05-01T12:00:00Z"), toFake: ["Date"] });
  gateway = new FakeGateway();
  channelName = `portcullis-test-${Math.random()}`;
  locks = new FakeLocks();
});
afterEach(() => {
  for (const tab of tabs.splice(0)) tab.client.close();
  vi.useRealTimers();
});

describe("tabs of one origin", () => {
  it("share a token one of them got, so the other does not refresh", async () => {
    const first = openTab();
    const second = openTab();
    await first.client.login("alice", "wonderland");
    await vi.waitFor(() => expect(second.sources).toEqual(["other_tab"]));
    expect(second.client.sessionId).toBe(first.client.sessionId);

    vi.advanceTimersByTime(55_000);
    await first.client.fetch("/api/me");
    await vi.waitFor(() => expect(second.sources).toEqual(["other_tab", "other_tab"]));
    await second.client.fetch("/api/me");
    expect(gateway.callsTo("/auth/refresh")).toHaveLength(1);
    const [fromFirst, fromSecond] = gateway.callsTo("/api/me").map((call) => call.authorization);
    expect(fromSecond).toBe(fromFirst);
  });

  it("refresh once when both are due at the same moment", async () => {
    const first = openTab();
    const second = openTab();
    await first.client.login("alice", "wonderland");
    await vi.waitFor(() => expect(second.client.isAuthenticated).toBe(true));
    vi.advanceTimersByTime(55_000);

    const responses = await Promise.all([first.client.fetch("/api/me"), second.client.fetch("/api/me")]);
    expect(responses.map((response) => response.status)).toEqual([200, 200]);
    expect(gateway.callsTo("/auth/refresh")).toHaveLength(1);
    expect(new Set(gateway.callsTo("/api/me").map((call) => call.authorization)).size).toBe(1);
  });

  it("end together: a logout in one tab is reported once in the other", async () => {
    const first = openTab();
    const second = openTab();
    await first.client.login("alice", "wonderland");
    await vi.waitFor(() => expect(second.client.isAuthenticated).toBe(true));

    await first.client.logout();
    await vi.waitFor(() => expect(second.ended).toEqual(["ended_in_other_tab"]));
    expect(first.ended).toEqual(["logout"]);
    expect(second.client.isAuthenticated).toBe(false);
    await second.client.fetch("/api/me");
    expect(gateway.callsTo("/api/me").at(-1)?.authorization).toBeNull();
  });

  it("ignore messages of the wrong shape on the channel", async () => {
    const tab = openTab();
    await tab.client.login("alice", "wonderland");
    const intruder = new BroadcastChannel(channelName);
    intruder.postMessage({ type: "token", token: 42, expiresAt: "soon" });
    intruder.postMessage({ type: "ended" });
    intruder.postMessage("hello");
    const probe = openTab(); // receives the same messages; when it has them, so has `tab`
    intruder.postMessage({ type: "ended", sessionId: "some-other-session" });
    await new Promise((resolve) => setTimeout(resolve, 20));
    intruder.close();
    expect(tab.client.isAuthenticated).toBe(true);
    expect(tab.ended).toEqual([]);
    expect(probe.sources).toEqual([]);
  });
});
