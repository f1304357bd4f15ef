/**
 * The provider's side of POST /auth/logout for a provider's session: its refresh token
 * revoked at the provider (RFC 7009, best effort), and the end-session URL for the browser;
 * for GitHub, its access token revoked through GitHub's API, and no URL. When the provider
 * cannot be reached, the local logout still stands; only the URL is missing.
 */
import { loginProviderById } from "../config/parse-login-providers";
import type { RequestContext } from "../gateway/request-context";
import { revokeGitHubToken } from "../github/github-revoke";
import { log } from "../log/logger";
import { endSessionUrl } from "../oidc/end-session";
import { providerFor } from "../oidc/provider";
import { revokeRefreshTokenAtProvider } from "../oidc/token-revocation";
import type { EndedSession } from "../sessions/sessions";

export async function endProviderSession(
  context: RequestContext,
  request: Request,
  session: EndedSession,
): Promise<string | undefined> {
  if (session.idpLogout === undefined) return undefined;
  const oidc = loginProviderById(context.config.loginProviders, session.idpLogout.provider);
  if (oidc === undefined) return undefined;
  if (oidc.kind === "github") {
    // No end-session at GitHub: its token is revoked, and the browser stays here.
    const { accessToken } = session.idpLogout;
    if (accessToken !== undefined && !(await revokeGitHubToken(oidc, accessToken))) {
      log.warn("github_revocation_failed", { requestId: context.requestId, sid: session.sid });
    }
    return undefined;
  }
  try {
    const provider = await providerFor(oidc, context.now());
    const { refreshToken } = session.idpLogout;
    if (refreshToken !== undefined && !(await revokeRefreshTokenAtProvider(provider, refreshToken))) {
      log.warn("oidc_revocation_failed", { requestId: context.requestId, sid: session.sid });
    }
    const postLogout = oidc.postLogoutRedirectUri ?? `${new URL(request.url).origin}/`;
    return endSessionUrl(provider, session.idpLogout, postLogout);
  } catch {
    log.warn("oidc_end_session_unavailable", { requestId: context.requestId, sid: session.sid });
    return undefined;
  }
}
