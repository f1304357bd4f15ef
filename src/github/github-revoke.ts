/**
 * Logout's side at GitHub: the session's GitHub token revoked with the REST API's
 * `DELETE /applications/{client_id}/token` (the app authenticates with its id and secret;
 * GitHub has no RFC 7009 endpoint). Best effort, as the OIDC revocation at logout is: the
 * local logout stands whatever GitHub answers. A token GitHub no longer knows (422) is as
 * good as revoked.
 */
import type { OidcConfig } from "../config/config";
import { GITHUB_API_VERSION } from "./github-api";

const TIMEOUT_MS = 5_000;

/** True when GitHub revoked the token, or did not know it any more. */
export async function revokeGitHubToken(config: OidcConfig, accessToken: string): Promise<boolean> {
  if (config.github === undefined || config.clientSecret === undefined) return false;
  const url = `${config.github.apiUrl}/applications/${encodeURIComponent(config.clientId)}/token`;
  const credentials = btoa(`${config.clientId}:${config.clientSecret}`);
  try {
    const response = await fetch(url, {
      method: "DELETE",
      headers: {
        authorization: `Basic ${credentials}`,
        accept: "application/vnd.github+json",
        "content-type": "application/json",
        "x-github-api-version": GITHUB_API_VERSION,
        "user-agent": "portcullis",
      },
      body: JSON.stringify({ access_token: accessToken }),
      redirect: "manual",
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    await response.body?.cancel();
    return response.status === 204 || response.status === 422;
  } catch {
    return false;
  }
}
