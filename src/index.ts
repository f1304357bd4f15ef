/**
 * Portcullis: the Worker's entry point. The default export serves requests; the
 * SessionObject class backs the SESSIONS Durable Object binding, RevocationLedger the
 * REVOCATIONS one (the revocation ledger), IdpLogoutIndex the IDP_LOGOUT_INDEX one (OIDC
 * back-channel logout), ServiceClients the optional SERVICE_CLIENTS one (service tokens).
 */
import { createWorker } from "./app";

export { ServiceClients } from "./machines/service-clients";
export { RevocationLedger } from "./revocation/revocation-ledger";
export { IdpLogoutIndex } from "./sessions/idp-logout-index";
export { SessionObject } from "./sessions/session-object";
export { SubjectSessions } from "./sessions/subject-sessions";

export default createWorker();
