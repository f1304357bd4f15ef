/**
 * Coordination between tabs of one origin, so that two tabs do not both refresh and a
 * logout in one tab ends the session in all of them.
 *
 * - Web Locks (`navigator.locks`) serialize refreshes across tabs: a tab that waited for
 *   the lock first looks whether another tab already brought a fresh token.
 * - BroadcastChannel carries that fresh token, and "session ended" notices, to the other
 *   tabs. It reaches only same-origin documents, which could call `/auth/refresh`
 *   themselves anyway, so sharing the token there gives nobody anything new; the token
 *   still never touches storage.
 *
 * Either API may be missing (older browsers, Node): the client then works per tab.
 */

/** What tabs tell each other. `scheme` is absent in messages of older versions. */
export type TabMessage =
  | { readonly type: "token"; readonly token: string; readonly expiresAt: number; readonly scheme?: "Bearer" | "DPoP" }
  | { readonly type: "ended"; readonly sessionId: string };

/** The part of `BroadcastChannel` the client uses. */
export interface BroadcastChannelLike {
  postMessage(message: unknown): void;
  close(): void;
  onmessage: ((event: MessageEvent) => unknown) | null;
}

/** The part of `navigator.locks` the client uses. */
export interface LockManagerLike {
  request<T>(name: string, options: { ifAvailable?: boolean }, callback: (lock: unknown) => Promise<T>): Promise<T>;
}

export interface CrossTabOptions {
  /** Channel and lock name; tabs that should cooperate use the same one. Default `"portcullis"`. */
  readonly name?: string;
  /** Default: `new BroadcastChannel(name)` when the global exists; `null` turns token sharing off. */
  readonly channel?: BroadcastChannelLike | null;
  /** Default: `navigator.locks` when it exists; `null` turns refresh locking off. */
  readonly locks?: LockManagerLike | null;
}

function parseMessage(data: unknown): TabMessage | undefined {
  if (typeof data !== "object" || data === null) return undefined;
  const message = data as Record<string, unknown>;
  if (message.type === "token" && typeof message.token === "string" && typeof message.expiresAt === "number") {
    const scheme = message.scheme === "DPoP" || message.scheme === "Bearer" ? message.scheme : undefined;
    return { type: "token", token: message.token, expiresAt: message.expiresAt, ...(scheme ? { scheme } : {}) };
  }
  if (message.type === "ended" && typeof message.sessionId === "string") {
    return { type: "ended", sessionId: message.sessionId };
  }
  return undefined;
}

export class TabCoordinator {
  readonly #lockName: string;
  readonly #channel: BroadcastChannelLike | undefined;
  readonly #locks: LockManagerLike | undefined;
  readonly #waiters = new Set<() => void>();

  constructor(options: CrossTabOptions, onMessage: (message: TabMessage) => void) {
    const name = options.name ?? "portcullis";
    this.#lockName = `${name}:refresh`;
    this.#channel =
      options.channel === undefined
        ? typeof BroadcastChannel === "function"
          ? new BroadcastChannel(name)
          : undefined
        : (options.channel ?? undefined);
    const globalLocks = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks;
    this.#locks = options.locks === undefined ? globalLocks : (options.locks ?? undefined);
    const waiters = this.#waiters;
    if (this.#channel) {
      this.#channel.onmessage = function receiveTabMessage(event: MessageEvent) {
        const message = parseMessage(event.data);
        if (!message) return;
        onMessage(message);
        for (const wake of [...waiters]) wake();
      };
    }
  }

  /**
   * Run `work` while no other tab runs its own (right away without Web Locks).
   * `contended` tells it that another tab held the lock first, and so may be about to
   * share a fresh token.
   */
  async exclusive<T>(work: (contended: boolean) => Promise<T>): Promise<T> {
    const locks = this.#locks;
    if (!locks) return work(false);
    const first = await locks.request<{ readonly value: T } | undefined>(
      this.#lockName,
      { ifAvailable: true },
      async (lock) => (lock === null ? undefined : { value: await work(false) }),
    );
    if (first !== undefined) return first.value;
    return locks.request(this.#lockName, {}, () => work(true));
  }

  /**
   * Resolves on the next message from another tab, or after `timeoutMs`. The lock and
   * the channel are separate, so a tab can be granted the lock a moment before the
   * message of the tab that released it arrives.
   */
  nextMessage(timeoutMs: number): Promise<void> {
    if (!this.#channel) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.#waiters.add(done);
    });
  }

  publish(message: TabMessage): void {
    this.#channel?.postMessage(message);
  }

  close(): void {
    if (this.#channel) {
      this.#channel.onmessage = null;
      this.#channel.close();
    }
  }
}
