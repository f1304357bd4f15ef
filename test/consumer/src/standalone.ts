// The standalone gateway from the package, deployed under the user's own wrangler.toml.
// The consumer test type-checks this file (it is not the Worker that test runs).
export { default, IdpLogoutIndex, RevocationLedger, SessionObject } from "portcullis";
