/**
 * Server nonces for DPoP proofs (RFC 9449 §8, §9), stateless: the nonce of a period is a
 * MAC of the period's number under DPOP_NONCE_SECRET, so every isolate in every location
 * hands out and accepts the same nonces with nothing stored. A proof must carry the
 * nonce of the current period or the one before, so no proof can be made more than two
 * periods ahead of its use, whatever its `iat` says.
 *
 * Several secrets (DPOP_NONCE_SECRET holds them space-separated) rotate one: the first
 * makes nonces, all of them are accepted, so nonces handed out before a rotation still work.
 */
import { base64url } from "jose";

/** Seconds one nonce is handed out for; it is accepted for two. */
export const NONCE_PERIOD_SECONDS = 60;
const ENCODER = new TextEncoder();

interface PeriodNonces {
  readonly period: number;
  /** What is handed out now. */
  readonly current: string;
  /** What is accepted now: this period's and the last one's, under every secret. */
  readonly accepted: ReadonlySet<string>;
}

export class DpopNonces {
  readonly #keys: Promise<CryptoKey[]>;
  #nonces: Promise<PeriodNonces> | undefined;

  constructor(secrets: readonly string[]) {
    this.#keys = Promise.all(
      secrets.map((secret) =>
        crypto.subtle.importKey("raw", ENCODER.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]),
      ),
    );
  }

  /** The nonces of the period `now` (ms) falls in; worked out once per period. */
  at(now: number): Promise<PeriodNonces> {
    const period = Math.floor(now / 1000 / NONCE_PERIOD_SECONDS);
    const held = this.#nonces;
    if (held !== undefined) {
      return held.then((nonces) => (nonces.period === period ? nonces : this.#make(period)));
    }
    return this.#make(period);
  }

  #make(period: number): Promise<PeriodNonces> {
    const made = (async () => {
      const keys = await this.#keys;
      const accepted = new Set<string>();
      let current = "";
      for (const [index, key] of keys.entries()) {
        const now = await nonceOf(key, period);
        if (index === 0) current = now;
        accepted.add(now);
        accepted.add(await nonceOf(key, period - 1));
      }
      return { period, current, accepted };
    })();
    this.#nonces = made;
    return made;
  }
}

async function nonceOf(key: CryptoKey, period: number): Promise<string> {
  const mac = await crypto.subtle.sign("HMAC", key, ENCODER.encode(`portcullis-dpop-nonce:${period}`));
  return base64url.encode(new Uint8Array(mac, 0, 18));
}
