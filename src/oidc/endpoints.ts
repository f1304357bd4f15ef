/** Where the gateway serves the login through the provider (auth/routes.ts mounts them). */
export const OIDC_LOGIN_PATH = "/auth/oidc/login";
export const OIDC_CALLBACK_PATH = "/auth/oidc/callback";
