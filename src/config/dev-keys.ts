/**
 * DEVELOPMENT-ONLY key material so that `npm run dev` works with no configuration.
 *
 * These values are public (they are in the repository). The config parser uses them only
 * when PORTCULLIS_ENV=development, and refuses to start in production when any of them
 * is configured. Never copy them into a deployment.
 */

/** An Ed25519 private JWK, generated once for the demo. */
export const DEV_SIGNING_KEY = Object.freeze({
  kty: "OKP",
  crv: "Ed25519",
  kid: "portcullis-dev-key-do-not-deploy",
  alg: "EdDSA",
  use: "sig",
  x: "PxRD6BMDrlFL2O7Ag1eTZtzqtD5UJF8v3pIneg1t8CI",
  d: "ck5_5INoGSWdOrp737mRjXE6catwFn1DUcJvEkvOkVI",
});

/** Shared secret between the gateway and the demo upstream's credential check. */
export const DEV_CREDENTIAL_CHECK_SECRET = "portcullis-dev-credential-secret-do-not-deploy";

/** Operator token for the demo ("log out everywhere"). */
export const DEV_OPERATOR_TOKEN = "portcullis-dev-operator-token-do-not-deploy";

/** Client secret of the demo identity provider's client (`npm run dev`). */
export const DEV_OIDC_CLIENT_SECRET = "portcullis-dev-oidc-client-secret-do-not-deploy";

/** Seals the demo identity provider's tokens at rest (`npm run dev`). */
export const DEV_OIDC_SEALING_SECRET = "portcullis-dev-oidc-sealing-secret-do-not-deploy";
