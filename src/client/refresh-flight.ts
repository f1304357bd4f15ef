/**
 * One refresh at a time, however many calls (and tabs) want one: every caller during a
 * refresh waits for the same one, and with a cross-tab lock a tab that waited for
 * another tab's refresh takes that tab's new token instead of refreshing a second time.
 */
import type { HeldToken } from "./access-token";
import type { TabCoordinator } from "./tab-coordinator";

export type RefreshOutcome = "refreshed" | "rejected" | "unavailable";

/** How long a tab that waited for another tab's refresh waits for that tab's token. */
const OTHER_TAB_GRACE_MS = 500;

/** What the flight asks of the client it refreshes for. */
export interface RefreshHost {
  /** The token held now. */
  current(): HeldToken | undefined;
  /** Is this token close enough to its expiry to refresh? */
  isDue(token: HeldToken): boolean;
  /** Refresh at the gateway, now. */
  refresh(): Promise<RefreshOutcome>;
}

export class RefreshFlight {
  readonly #host: RefreshHost;
  readonly #tabs: TabCoordinator | undefined;
  #running: Promise<RefreshOutcome> | undefined;

  constructor(host: RefreshHost, tabs: TabCoordinator | undefined) {
    this.#host = host;
    this.#tabs = tabs;
  }

  /** The refresh under way, or a new one. */
  once(): Promise<RefreshOutcome> {
    if (this.#running === undefined) {
      const before = this.#host.current();
      const tabs = this.#tabs;
      const run = tabs
        ? tabs.exclusive((contended) => this.#unlessDone(tabs, before, contended))
        : this.#host.refresh();
      this.#running = run.finally(() => {
        this.#running = undefined;
      });
    }
    return this.#running;
  }

  /**
   * Inside the cross-tab lock. When another tab held it first, its fresh token may be on
   * the way (or already here): wait briefly for it rather than refresh a second time.
   */
  async #unlessDone(tabs: TabCoordinator, before: HeldToken | undefined, contended: boolean): Promise<RefreshOutcome> {
    if (contended && this.#host.current() === before) await tabs.nextMessage(OTHER_TAB_GRACE_MS);
    const current = this.#host.current();
    if (current !== before) {
      if (current === undefined) return "rejected";
      if (!this.#host.isDue(current)) return "refreshed";
    }
    return this.#host.refresh();
  }
}
