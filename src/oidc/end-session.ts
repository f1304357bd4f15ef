/**
 * RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): the provider's
 * end_session_endpoint URL for a session that is ending here. It carries `id_token_hint`,
 * or — when the ID token would make the URL too long for some browsers and servers —
 * `client_id` + `logout_hint` (the provider's `sub`), plus `post_logout_redirect_uri` and `state`.
 */
import type { Provider } from "./provider";

/** Past this, the ID token is left out of the URL. */
export const MAX_ID_TOKEN_HINT_LENGTH = 1500;

export function endSessionUrl(
  provider: Provider,
  session: { idToken: string | undefined; sub: string },
  postLogoutRedirectUri: string | undefined,
): string | undefined {
  const endpoint = provider.server.end_session_endpoint;
  if (endpoint === undefined) return undefined;
  const url = new URL(endpoint);
  if (session.idToken !== undefined && session.idToken.length <= MAX_ID_TOKEN_HINT_LENGTH) {
    url.searchParams.set("id_token_hint", session.idToken);
  } else {
    url.searchParams.set("client_id", provider.config.clientId);
    url.searchParams.set("logout_hint", session.sub);
  }
  if (postLogoutRedirectUri !== undefined) url.searchParams.set("post_logout_redirect_uri", postLogoutRedirectUri);
  // Only our own post-logout page reads it back; unguessable so it cannot be forged into a CSRF.
  url.searchParams.set("state", crypto.randomUUID());
  return url.href;
}
