/**
 * What a client needs to prove possession of its DPoP key on every request: the key
 * (obtained once, lazily), the gateway's latest `DPoP-Nonce`, and the gateway's clock.
 *
 * - The key comes from the store on first use. If that fails (no ECDSA P-256, storage
 *   refused), the prover has no key and the client goes on with bearer tokens; a gateway
 *   that requires DPoP then refuses it, one that does not carries on as before.
 * - `iat` is counted on the gateway's clock: the offset to it is taken from the `Date` of
 *   the token endpoints' answers (POSTs, never served from a cache). `Date` has whole
 *   seconds and arrives late, so the estimate errs towards the past, never into the future
 *   the gateway refuses, and a browser whose clock is minutes off still makes good proofs.
 */
import { type DpopKey, type DpopKeyStore, obtainDpopKey } from "./dpop-key";
import { accessTokenHash, createDpopProof } from "./dpop-proof";

type HeaderReader = (name: string) => string | null | undefined;

export interface DpopProverOptions {
  /** The gateway's origin: the key is kept per origin. */
  readonly origin: string;
  readonly store: DpopKeyStore;
  /** Milliseconds since the epoch, local clock. */
  readonly now: () => number;
}

/** A 401 whose `WWW-Authenticate` asks for a proof with the gateway's nonce (RFC 9449 §9). */
export function isNonceChallenge(status: number, wwwAuthenticate: string | null | undefined): boolean {
  return status === 401 && /\berror\s*=\s*"?use_dpop_nonce"?/i.test(wwwAuthenticate ?? "");
}

/**
 * True when an answer asks for a proof with a nonce: the 401 challenge of a resource, or
 * the 400 `{"error":"use_dpop_nonce"}` of a token endpoint (RFC 9449 §8). Reads a copy
 * of the body, so the answer can still be read.
 */
export async function demandsNonce(response: Response): Promise<boolean> {
  if (isNonceChallenge(response.status, response.headers.get("www-authenticate"))) return true;
  if (response.status !== 400 || !/json/i.test(response.headers.get("content-type") ?? "")) return false;
  try {
    const body = (await response.clone().json()) as { error?: unknown };
    return body.error === "use_dpop_nonce";
  } catch {
    return false;
  }
}

export class DpopProver {
  readonly #origin: string;
  readonly #store: DpopKeyStore;
  readonly #now: () => number;
  #key: Promise<DpopKey | undefined> | undefined;
  #nonce: string | undefined;
  #clockOffsetMs = 0;
  #hashed: { readonly token: string; readonly hash: Promise<string> } | undefined;

  constructor(options: DpopProverOptions) {
    this.#origin = options.origin;
    this.#store = options.store;
    this.#now = options.now;
  }

  /** The key, or undefined when none could be made or loaded (the client then sends bearer tokens). */
  key(): Promise<DpopKey | undefined> {
    this.#key ??= obtainDpopKey(this.#origin, this.#store).catch(() => undefined);
    return this.#key;
  }

  /** The latest `DPoP-Nonce` the gateway handed out, if any. */
  get nonce(): string | undefined {
    return this.#nonce;
  }

  /**
   * A proof for one request, or undefined without a key.
   * @param accessToken the token sent with it (its hash becomes `ath`).
   */
  async proof(method: string, url: string | URL, accessToken?: string): Promise<string | undefined> {
    const key = await this.key();
    if (key === undefined) return undefined;
    const nonce = this.#nonce;
    return createDpopProof(key, {
      method,
      url,
      issuedAt: Math.floor((this.#now() + this.#clockOffsetMs) / 1000),
      ...(accessToken === undefined ? {} : { accessTokenHash: await this.#hash(accessToken) }),
      ...(nonce === undefined ? {} : { nonce }),
    });
  }

  /** Remember the nonce of any answer from the gateway. */
  observe(header: HeaderReader): void {
    const nonce = header("dpop-nonce");
    if (nonce !== null && nonce !== undefined && nonce !== "") this.#nonce = nonce;
  }

  /** Also take the gateway's clock from an answer that no cache can have kept (a token endpoint's). */
  observeClock(header: HeaderReader): void {
    const date = Date.parse(header("date") ?? "");
    if (Number.isFinite(date)) this.#clockOffsetMs = date - this.#now();
  }

  #hash(token: string): Promise<string> {
    if (this.#hashed?.token !== token) this.#hashed = { token, hash: accessTokenHash(token) };
    return this.#hashed.hash;
  }
}
