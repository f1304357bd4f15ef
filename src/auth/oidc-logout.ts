/**
 * The provider's end-session URL for an OIDC session that POST /auth/logout just ended.
 * When the provider cannot be reached, the local logout still stands; only the URL is missing.
 */
import type { RequestContext } from "../gateway/request-context";
import { log } from "../log/logger";
import { endSessionUrl } from "../oidc/end-session";
import { providerFor } from "../oidc/provider";
import type { EndedSession } from "../sessions/sessions";

export async function providerEndSessionUrl(
  context: RequestContext,
  request: Request,
  session: EndedSession,
): Promise<string | undefined> {
  const oidc = context.config.oidc;
  if (oidc === undefined || session.idpLogout === undefined) return undefined;
  try {
    const provider = await providerFor(oidc, context.now());
    const postLogout = oidc.postLogoutRedirectUri ?? `${new URL(request.url).origin}/`;
    return endSessionUrl(provider, session.idpLogout, postLogout);
  } catch {
    log.warn("oidc_end_session_unavailable", { requestId: context.requestId, sid: session.sid });
    return undefined;
  }
}
