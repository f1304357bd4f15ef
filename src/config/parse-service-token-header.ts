/**
 * SERVICE_TOKEN_HEADER (docs/identities.md, "One header instead of an exchange"): the name
 * of the request header in which a service client may send `<client_id>:<secret>` on
 * proxied requests. Off when unset.
 *
 * The name must be a header of its own: not one the gateway reads, sets or drops
 * (Authorization, Cookie, DPoP, `X-Auth-*`, the forwarding headers…), not one HTTP or the
 * browser gives a meaning to (Host, Content-*, Sec-*, Proxy-*…). Otherwise a secret would
 * travel in a header that some proxy, framework or log reads as something else, or the
 * gateway's own use of that header would decide what it means. Letters, digits and single
 * hyphens only: `_` and `.` are read as `-` by CGI-style servers (canonical/header-names.ts),
 * so such a name has several spellings.
 */
import { headerKey, isDroppedRequestHeader, SUGGESTED_SERVICE_TOKEN_HEADER } from "../canonical/header-names";
import type { ServiceTokenHeaderConfig } from "./config";
import type { ConfigEnv } from "./env";
import { ConfigError, text } from "./env-readers";

const SETTING = "SERVICE_TOKEN_HEADER";
const NAME = /^[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*$/;
/** Longer than any sensible header name; a limit so the error and the challenge stay short. */
const MAX_NAME_LENGTH = 64;

/** Names HTTP, browsers or the gateway give a meaning to (compared by key). */
const TAKEN: ReadonlySet<string> = new Set([
  "authorization",
  "www-authenticate",
  "host",
  "cookie",
  "set-cookie",
  "dpop",
  "dpop-nonce",
  "origin",
  "referer",
  "via",
  "expect",
  "date",
  "dnt",
  "range",
  "user-agent",
  "cache-control",
  "pragma",
  "x-request-id",
  "upgrade-insecure-requests",
  "portcullis-degraded",
]);
/** Families of such names: Content-Type, Accept-Encoding, Sec-Fetch-Site, CF-Ray, If-Match… */
const TAKEN_PREFIXES = ["content-", "accept", "sec-", "proxy-", "cf-", "access-control-", "if-", "portcullis-"];

/** Why this header name cannot carry service tokens, or undefined when it can. */
function takenBecause(key: string): string | undefined {
  if (key === SUGGESTED_SERVICE_TOKEN_HEADER) return undefined;
  if (isDroppedRequestHeader(key)) return "is a header the gateway reads, sets or drops itself";
  if (TAKEN.has(key) || TAKEN_PREFIXES.some((prefix) => key.startsWith(prefix))) {
    return "is a header HTTP, browsers or the gateway already give a meaning to";
  }
  return undefined;
}

export interface ServiceTokenHeaderOptions {
  /** The gateway signs its own tokens (SIGNING_KEYS): what the header is exchanged for. */
  readonly signs: boolean;
  /** portcullis/hono: its middleware does not read the header, so the setting would be a silent no-op. */
  readonly embedded: boolean;
}

/** The header, or undefined when the setting is unset. Throws ConfigError for a name it cannot be. */
export function parseServiceTokenHeader(
  env: ConfigEnv,
  options: ServiceTokenHeaderOptions,
): ServiceTokenHeaderConfig | undefined {
  const name = text(env, SETTING);
  if (name === undefined) return undefined;
  if (name.length > MAX_NAME_LENGTH || !NAME.test(name)) {
    throw new ConfigError(
      SETTING,
      'must be a header name of letters, digits and single hyphens, such as "Portcullis-Service-Token"',
    );
  }
  const key = headerKey(name).toLowerCase();
  const taken = takenBecause(key);
  if (taken !== undefined) {
    throw new ConfigError(SETTING, `"${name}" ${taken}; name one of its own, such as "Portcullis-Service-Token"`);
  }
  if (options.embedded) {
    throw new ConfigError(
      SETTING,
      "is served by the standalone gateway only; portcullis/hono's middleware does not read it (docs/hono.md)",
    );
  }
  if (!options.signs) {
    throw new ConfigError(
      SETTING,
      "needs SIGNING_KEYS: the header is exchanged for an access token of the gateway's own",
    );
  }
  return Object.freeze({ name, key });
}
