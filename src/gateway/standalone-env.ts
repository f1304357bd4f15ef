/**
 * Compile-time only. The standalone Worker's `Env` is generated from wrangler.toml by
 * `npm run types` (worker-configuration.d.ts, checked for staleness by `npm test`); this
 * fails to type-check when those bindings and vars stop meeting what Portcullis reads
 * (gateway/env.ts), e.g. a renamed binding. Not part of the published package.
 */
import type { Env } from "./env";

export type StandaloneEnvMeetsContract = Cloudflare.Env extends Env ? true : false;

export const STANDALONE_ENV_MEETS_CONTRACT: StandaloneEnvMeetsContract = true;
