/**
 * The client's options: their types, defaults and checks, done once when the client is
 * created (a bad option throws `invalid_options` there, not on the first request).
 */
import type { DpopKeyStore } from "./dpop-key";
import { defaultKeyStore } from "./dpop-key-store";
import { PortcullisClientError } from "./errors";
import type { CrossTabOptions } from "./tab-coordinator";

/** Why a session ended, as `onSessionEnded` reports it. */
export type SessionEndReason =
  /** The gateway refused the refresh (session expired, revoked, or logged out elsewhere). */
  | "refresh_rejected"
  /** `logout()` was called in this tab. */
  | "logout"
  /** Another tab logged out or saw the refresh refused. */
  | "ended_in_other_tab";

/** Where a new access token came from, as `onTokenChange` reports it. */
export type TokenSource = "login" | "resume" | "refresh" | "gateway" | "other_tab";

export interface TokenChange {
  readonly source: TokenSource;
  /** Local clock, milliseconds. */
  readonly expiresAt: number;
  readonly sessionId: string | undefined;
}

/** DPoP settings beyond on/off. */
export interface DpopOptions {
  /**
   * Where the key pair is kept. Default: IndexedDB in a browser (shared by the origin's
   * tabs, kept across reloads), memory elsewhere. Every client that shares a session must
   * sign with the same key.
   */
  readonly keyStore?: DpopKeyStore;
}

export interface PortcullisClientOptions {
  /** The gateway's origin; relative URLs are resolved against it. Default: the page's origin. */
  readonly gatewayUrl?: string;
  /** Default: the global `fetch`. */
  readonly fetch?: (input: Request | string | URL, init?: RequestInit) => Promise<Response>;
  /** Milliseconds since the epoch. Default: `Date.now`. */
  readonly now?: () => number;
  /**
   * Refresh this many seconds before the token expires (at most half its lifetime).
   * Default 10.
   */
  readonly refreshSkewSeconds?: number;
  /**
   * Refresh before sending a token that is about to expire (client-managed). With `false`
   * the client sends what it has and lets the gateway refresh transparently; it still
   * refreshes after a 401. Default true.
   */
  readonly proactiveRefresh?: boolean;
  /** Give up on login, refresh and logout requests after this long. Default 10 000. */
  readonly requestTimeoutMs?: number;
  /** `credentials` for gateway requests; `"include"` when the gateway is on another origin. Default `"same-origin"`. */
  readonly credentials?: RequestCredentials;
  /** The gateway's endpoints. Defaults: `/auth/login`, `/auth/refresh`, `/auth/logout`. */
  readonly paths?: { readonly login?: string; readonly refresh?: string; readonly logout?: string };
  /** Share tokens and logouts between tabs, and refresh in one tab at a time. Default true. */
  readonly crossTab?: boolean | CrossTabOptions;
  /**
   * Bind the session to a non-extractable key of this browser (DPoP, RFC 9449): every
   * request carries a proof signed with it, and a token or refresh cookie copied out of
   * the page is refused elsewhere. `false`: bearer tokens. If no key can be made, the
   * client uses bearer tokens, which a gateway that requires DPoP refuses.
   * Default: true where WebCrypto is available.
   */
  readonly dpop?: boolean | DpopOptions;
  /** Called with every new access token (not the token itself). */
  readonly onTokenChange?: (change: TokenChange) => void;
  /** Called once when the session ends, whatever ended it. */
  readonly onSessionEnded?: (reason: SessionEndReason) => void;
}

export type FetchFunction = (input: Request | string | URL, init?: RequestInit) => Promise<Response>;

/** Options with their defaults applied. */
export interface ResolvedOptions {
  readonly origin: string;
  readonly fetch: FetchFunction;
  readonly now: () => number;
  readonly skewMs: number;
  readonly proactive: boolean;
  readonly timeoutMs: number;
  readonly credentials: RequestCredentials;
  readonly paths: { readonly login: string; readonly refresh: string; readonly logout: string };
  readonly crossTab: CrossTabOptions | undefined;
  /** Where the DPoP key is kept; undefined: DPoP off. */
  readonly dpopKeyStore: DpopKeyStore | undefined;
  readonly onTokenChange: ((change: TokenChange) => void) | undefined;
  readonly onSessionEnded: ((reason: SessionEndReason) => void) | undefined;
}

const DEFAULT_PATHS = { login: "/auth/login", refresh: "/auth/refresh", logout: "/auth/logout" } as const;

function invalidOption(message: string, cause?: unknown): PortcullisClientError {
  return new PortcullisClientError("invalid_options", message, { cause });
}

function hasWebCrypto(): boolean {
  const subtle = (globalThis as { crypto?: { subtle?: { generateKey?: unknown } } }).crypto?.subtle;
  return typeof subtle?.generateKey === "function";
}

export function resolveOptions(options: PortcullisClientOptions): ResolvedOptions {
  const gatewayUrl = options.gatewayUrl ?? (globalThis as { location?: { origin?: string } }).location?.origin;
  if (gatewayUrl === undefined) throw invalidOption("gatewayUrl is required outside a browser page");
  let origin: string;
  try {
    origin = new URL(gatewayUrl).origin;
  } catch (error) {
    throw invalidOption("gatewayUrl must be an absolute URL", error);
  }
  const fetchImpl = options.fetch ?? globalThis.fetch;
  if (typeof fetchImpl !== "function") throw invalidOption("no fetch available; pass options.fetch");
  const skew = options.refreshSkewSeconds ?? 10;
  if (!(skew >= 0)) throw invalidOption("refreshSkewSeconds must be a number ≥ 0");
  const timeoutMs = options.requestTimeoutMs ?? 10_000;
  if (!(timeoutMs > 0)) throw invalidOption("requestTimeoutMs must be a number > 0");
  const crossTab = options.crossTab ?? true;
  const dpop = options.dpop ?? hasWebCrypto();
  return {
    origin,
    // Called as a plain function: the browser's fetch refuses any other `this`.
    fetch: (input, init) => fetchImpl(input, init),
    now: options.now ?? Date.now,
    skewMs: skew * 1000,
    proactive: options.proactiveRefresh ?? true,
    timeoutMs,
    credentials: options.credentials ?? "same-origin",
    paths: { ...DEFAULT_PATHS, ...options.paths },
    crossTab: crossTab === false ? undefined : crossTab === true ? {} : crossTab,
    dpopKeyStore: dpop === false ? undefined : ((dpop === true ? undefined : dpop.keyStore) ?? defaultKeyStore()),
    onTokenChange: options.onTokenChange,
    onSessionEnded: options.onSessionEnded,
  };
}
