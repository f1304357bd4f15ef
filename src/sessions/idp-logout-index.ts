/**
 * What back-channel logout needs to be exact, in Durable Objects (strongly consistent,
 * unlike KV), binding IDP_LOGOUT_INDEX, one object per name:
 *
 *   idp-sid:<hash of the provider's sid>  the Portcullis sessions begun in that IdP session
 *   idp-sub:<hash of the provider's sub>   the Portcullis sessions of that provider subject
 *   jti:<hash of a logout token's jti>    a logout token already used (replay refusal)
 *   state:<hash of a login's state>        a login callback already used (replay refusal)
 *
 * Each object forgets itself with an alarm once nothing it holds can matter any more.
 * Lists are bounded; the oldest entries fall off first.
 */
import { DurableObject } from "cloudflare:workers";

const MAX_SESSIONS_PER_KEY = 100;

export class IdpLogoutIndex extends DurableObject {
  /** Remember that `sid` belongs here until `until` (ms since the epoch). */
  async add(input: { sid: string; until: number }): Promise<void> {
    const sids = (await this.ctx.storage.get<string[]>("sids")) ?? [];
    if (!sids.includes(input.sid)) sids.push(input.sid);
    await this.ctx.storage.put("sids", sids.slice(-MAX_SESSIONS_PER_KEY));
    await this.#expireAt(input.until);
  }

  /** Every session recorded here, forgetting them (they are being ended). */
  async take(): Promise<string[]> {
    const sids = (await this.ctx.storage.get<string[]>("sids")) ?? [];
    if (sids.length > 0) await this.ctx.storage.delete("sids");
    return sids;
  }

  /** True the first time only: a logout token's `jti` may be used once. */
  async claim(input: { until: number }): Promise<boolean> {
    if (await this.ctx.storage.get<boolean>("claimed")) return false;
    await this.ctx.storage.put("claimed", true);
    await this.#expireAt(input.until);
    return true;
  }

  async #expireAt(until: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current < until) await this.ctx.storage.setAlarm(until);
  }

  override async alarm(): Promise<void> {
    await this.ctx.storage.deleteAll();
  }
}
