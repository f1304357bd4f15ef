/**
 * The DPoP settings (docs/dpop.md): DPOP_SESSIONS, DPOP_PROOF_MAX_AGE, and DPOP_NONCE with
 * its secret DPOP_NONCE_SECRET (several, space-separated, while one is rotated out).
 */
import type { DpopConfig } from "./config";
import type { ConfigEnv } from "./env";
import { ConfigError, integer, parseBoolean, text } from "./env-readers";

const MIN_SECRET_LENGTH = 32;

export function parseDpopConfig(env: ConfigEnv): DpopConfig {
  const sessions = text(env, "DPOP_SESSIONS") ?? "optional";
  if (sessions !== "optional" && sessions !== "required") {
    throw new ConfigError("DPOP_SESSIONS", 'must be "optional" or "required"');
  }
  const nonce = parseBoolean(env, "DPOP_NONCE", false);
  const secrets = text(env, "DPOP_NONCE_SECRET")?.split(/\s+/);
  if (nonce && secrets === undefined) {
    throw new ConfigError(
      "DPOP_NONCE_SECRET",
      "is required with DPOP_NONCE = true (a random string, 32 characters or more)",
    );
  }
  if (secrets?.some((secret) => secret.length < MIN_SECRET_LENGTH)) {
    throw new ConfigError("DPOP_NONCE_SECRET", `each secret must be at least ${MIN_SECRET_LENGTH} characters`);
  }
  return Object.freeze({
    sessions,
    proofMaxAgeSeconds: integer(env, "DPOP_PROOF_MAX_AGE", 60, 5, 600),
    nonceSecrets: nonce && secrets !== undefined ? Object.freeze(secrets) : undefined,
  });
}
