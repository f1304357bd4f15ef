/**
 * The demo page's "Where you are signed in": lists the user's sessions through
 * portcullis/client (GET /auth/sessions), ends one (DELETE /auth/sessions/{id}) or all
 * the others (POST /auth/sessions/revoke-others).
 */
import type { PortcullisClient, SessionInfo } from "portcullis/client";

export interface SessionsPanelElements {
  readonly list: HTMLUListElement;
  readonly refresh: HTMLButtonElement;
  readonly endOthers: HTMLButtonElement;
}

function describe(session: SessionInfo): string {
  const where = session.country ? `${session.device}, ${session.country}` : session.device;
  const method = session.loginMethod === "oidc" ? "identity provider" : "password";
  const lastUsed = new Date(session.lastUsedAt).toLocaleTimeString();
  return `${where} · ${method} · last used ${lastUsed}${session.current ? " · this session" : ""}`;
}

export function mountSessionsPanel(
  client: PortcullisClient,
  elements: SessionsPanelElements,
  log: (text: string) => void,
): { show(): Promise<void> } {
  async function show(): Promise<void> {
    let sessions: SessionInfo[];
    try {
      sessions = await client.listSessions();
    } catch {
      log("Could not list the sessions");
      return;
    }
    elements.list.replaceChildren(
      ...sessions.map((session) => {
        const item = document.createElement("li");
        item.dataset.sessionId = session.id;
        item.dataset.current = String(session.current);
        const end = document.createElement("button");
        end.type = "button";
        end.textContent = session.current ? "End (this one)" : "End";
        end.addEventListener("click", async () => {
          try {
            await client.endSession(session.id);
            log(`Ended the session on ${session.device} (DELETE /auth/sessions/{id})`);
          } catch {
            log("Could not end that session");
          }
          if (client.isAuthenticated) await show();
        });
        item.append(`${describe(session)} `, end);
        return item;
      }),
    );
    elements.list.dataset.count = String(sessions.length);
  }

  elements.refresh.addEventListener("click", () => void show());
  elements.endOthers.addEventListener("click", async () => {
    try {
      const ended = await client.endOtherSessions();
      log(`Signed out everywhere else: ${ended} session(s) ended`);
    } catch {
      log("Could not sign out the other sessions");
    }
    await show();
  });
  return { show };
}
