/**
 * `portcullis/hono`: Portcullis inside your own Hono app on Workers. See docs/hono.md.
 *
 * @example
 * import { Hono } from "hono";
 * import { mountAuthEndpoints, portcullis, requireScopes, type PortcullisVariables } from "portcullis/hono";
 * export { RevocationLedger, SessionObject } from "portcullis/hono";
 *
 * const app = new Hono<{ Bindings: Env; Variables: PortcullisVariables }>();
 * mountAuthEndpoints(app, { checkCredentials });
 * app.use("/api/*", portcullis());
 * app.get("/api/me", (c) => c.json({ sub: c.var.auth.sub }));
 * app.get("/api/admin", requireScopes("admin"), (c) => c.text("hello"));
 * export default app;
 */

/** The upstream's check of the signed upstream assertion; also `portcullis/assertion`, which loads outside Workers. */
export type {
  AssertedIdentity,
  AssertionChecker,
  AssertionCheckOptions,
  AssertionRefusal,
  AssertionVariables,
  VerifyAssertionOptions,
} from "../assertion";
export { AssertionRefusedError, createAssertionChecker, verifyAssertion } from "../assertion";
export type { PortcullisSettings, RateLimitBinding, SettingName } from "../config/env";
export { ConfigError } from "../config/parse-config";
export type { Credentials, SubjectAnswer } from "../gateway/credential-check-contract";
export type { PortcullisBindings } from "../gateway/env";
export { RevocationLedger } from "../revocation/revocation-ledger";
export { IdpLogoutIndex } from "../sessions/idp-logout-index";
export { SessionObject } from "../sessions/session-object";
/** Optional: bind it as SUBJECT_SESSIONS for GET /auth/sessions and the rest of the sessions list. */
export { SubjectSessions } from "../sessions/subject-sessions";
export type { AuthIdentity, PortcullisVariables, SignInRequirement } from "./middleware";
export { portcullis, requireRoles, requireScopes, requireSignIn } from "./middleware";
export { mountAuthEndpoints } from "./mount";
export type { PortcullisOptions } from "./options";
