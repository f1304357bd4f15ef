/** Choosing a port before a server binds it races other processes; a clash starts again. */
import net, { type AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { freePort, retryOnPortClash } from "../support/free-port";

function listen(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

describe("retryOnPortClash", () => {
  it("starts again with a fresh port when the chosen one was taken meanwhile", async () => {
    const squatter = await listen(0);
    const taken = (squatter.address() as AddressInfo).port;
    const tried: number[] = [];
    try {
      const server = await retryOnPortClash(async () => {
        const port = tried.length === 0 ? taken : await freePort();
        tried.push(port);
        return listen(port);
      });
      expect(tried).toHaveLength(2);
      expect((server.address() as AddressInfo).port).toBe(tried[1]);
      server.close();
    } finally {
      squatter.close();
    }
  });

  it("does not retry other failures, and gives up after its attempts", async () => {
    let calls = 0;
    await expect(
      retryOnPortClash(async () => {
        calls += 1;
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(calls).toBe(1);
    calls = 0;
    await expect(
      retryOnPortClash(async () => {
        calls += 1;
        throw new Error("listen EADDRINUSE: address already in use");
      }, 2),
    ).rejects.toThrow("EADDRINUSE");
    expect(calls).toBe(2);
  });
});
