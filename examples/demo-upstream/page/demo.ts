/**
 * The demo page's script: logs in with portcullis/client (or through the demo identity
 * provider, a navigation to the gateway's /auth/oidc/login), calls the demo API through the
 * gateway, counts the access token's remaining life down and logs every refresh.
 *
 * `?refresh=gateway` turns the client's proactive refresh off, so an expired token goes
 * out as is and the gateway refreshes it transparently (backend-managed).
 *
 * The client binds the session to a DPoP key of this browser (RFC 9449) where WebCrypto is
 * there; the page shows the key's thumbprint and whether the held token is bound to it.
 */
import {
  createPortcullisClient,
  PortcullisClientError,
  type SessionEndReason,
  type TokenChange,
} from "portcullis/client";
import { mountSessionsPanel } from "./sessions-panel";

const PARALLEL_CALLS = 10;

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`#${id} is missing from the page`);
  return found as T;
}

const ui = {
  modeName: element("mode-name"),
  modeSwitch: element<HTMLAnchorElement>("mode-switch"),
  loginSection: element("login-section"),
  loginForm: element<HTMLFormElement>("login-form"),
  loginError: element("login-error"),
  idpLogin: element<HTMLAnchorElement>("idp-login"),
  idpLogoutNotice: element("idp-logout-notice"),
  idpLogout: element<HTMLAnchorElement>("idp-logout"),
  username: element<HTMLInputElement>("username"),
  password: element<HTMLInputElement>("password"),
  sessionSection: element("session-section"),
  sessionId: element("session-id"),
  thumbprint: element("dpop-thumbprint"),
  tokenBinding: element("token-binding"),
  countdown: element("countdown"),
  tokenLife: element<HTMLProgressElement>("token-life"),
  tokenState: element("token-state"),
  refreshCount: element("refresh-count"),
  gatewayRefreshCount: element("gateway-refresh-count"),
  tabRefreshCount: element("tab-refresh-count"),
  callApi: element<HTMLButtonElement>("call-api"),
  callParallel: element<HTMLButtonElement>("call-parallel"),
  logout: element<HTMLButtonElement>("logout"),
  sessionList: element<HTMLUListElement>("session-list"),
  listSessions: element<HTMLButtonElement>("list-sessions"),
  endOtherSessions: element<HTMLButtonElement>("end-other-sessions"),
  apiResult: element("api-result"),
  log: element<HTMLOListElement>("event-log"),
  status: element("status"),
};

const gatewayManaged = new URLSearchParams(location.search).get("refresh") === "gateway";
ui.modeName.textContent = gatewayManaged
  ? "gateway-managed (the gateway refreshes an expired token transparently)"
  : "client-managed (the client refreshes shortly before expiry)";
ui.modeSwitch.href = gatewayManaged ? "/demo/" : "/demo/?refresh=gateway";
ui.modeSwitch.textContent = gatewayManaged ? "Switch to client-managed" : "Switch to gateway-managed";

// The IdP login is a navigation: the gateway sends the browser to the IdP and, once signed in,
// back here (same mode) with the refresh cookie, which `client.resume()` below picks up.
ui.idpLogin.href = `/auth/oidc/login?return_to=${encodeURIComponent(location.pathname + location.search)}`;

const counts = { refresh: 0, gateway: 0, other_tab: 0 };
let tokenIssuedAt = 0;

function log(text: string, kind: "info" | "refresh" | "ended" = "info"): void {
  const item = document.createElement("li");
  item.className = kind;
  const time = document.createElement("time");
  const now = new Date();
  time.dateTime = now.toISOString();
  time.textContent = now.toLocaleTimeString();
  item.append(time, ` ${text}`);
  ui.log.append(item);
}

function announce(text: string): void {
  ui.status.textContent = text;
}

const TOKEN_SOURCES: Record<TokenChange["source"], string> = {
  login: "Logged in: got an access token",
  resume: "Resumed the session from the refresh cookie (POST /auth/refresh)",
  refresh: "Client refreshed the access token (POST /auth/refresh)",
  gateway: "Gateway refreshed the access token transparently (Authorization response header)",
  other_tab: "Another tab refreshed; took its access token",
};

const END_REASONS: Record<SessionEndReason, string> = {
  refresh_rejected: "Session ended: the gateway refused to refresh it (revoked or expired)",
  logout: "Logged out",
  ended_in_other_tab: "Session ended: logged out in another tab",
};

function onTokenChange(change: TokenChange): void {
  tokenIssuedAt = Date.now();
  const isRefresh = change.source === "refresh" || change.source === "gateway" || change.source === "other_tab";
  if (change.source === "refresh" || change.source === "gateway" || change.source === "other_tab") {
    counts[change.source] += 1;
  }
  const seconds = Math.round((change.expiresAt - Date.now()) / 1000);
  log(`${TOKEN_SOURCES[change.source]}; it expires in ${seconds} s`, isRefresh ? "refresh" : "info");
  announce(`${TOKEN_SOURCES[change.source]}.`);
  render();
}

function onSessionEnded(reason: SessionEndReason): void {
  log(END_REASONS[reason], "ended");
  announce(END_REASONS[reason]);
  ui.apiResult.textContent = "–";
  ui.sessionList.replaceChildren();
  render();
  ui.username.focus();
}

const client = createPortcullisClient({ proactiveRefresh: !gatewayManaged, onTokenChange, onSessionEnded });

const sessionsPanel = mountSessionsPanel(
  client,
  { list: ui.sessionList, refresh: ui.listSessions, endOthers: ui.endOtherSessions },
  log,
);

function render(): void {
  const signedIn = client.isAuthenticated;
  ui.loginSection.hidden = signedIn;
  ui.sessionSection.hidden = !signedIn;
  document.body.dataset.session = signedIn ? "active" : "none";
  ui.sessionId.textContent = client.sessionId ?? "–";
  const binding = client.tokenScheme;
  document.body.dataset.binding = binding === undefined ? "none" : binding.toLowerCase();
  ui.tokenBinding.textContent =
    binding === "DPoP"
      ? "DPoP: bound to this browser's key; every call carries a proof signed with it, so the token alone is refused"
      : binding === "Bearer"
        ? "Bearer: not bound to a key (DPoP is off or unavailable here); whoever holds the token can use it"
        : "–";
  ui.refreshCount.textContent = String(counts.refresh);
  ui.gatewayRefreshCount.textContent = String(counts.gateway);
  ui.tabRefreshCount.textContent = String(counts.other_tab);
  renderCountdown();
}

function renderCountdown(): void {
  const expiresAt = client.expiresAt;
  if (expiresAt === undefined) {
    ui.countdown.textContent = "–";
    ui.tokenState.textContent = "";
    ui.tokenLife.value = 0;
    delete ui.countdown.dataset.remaining;
    return;
  }
  const remainingMs = Math.max(0, expiresAt - Date.now());
  const remaining = Math.ceil(remainingMs / 1000);
  ui.countdown.textContent = `${remaining} s`;
  ui.countdown.dataset.remaining = String(remaining);
  const lifetime = Math.max(1, expiresAt - tokenIssuedAt);
  ui.tokenLife.value = Math.min(1, remainingMs / lifetime);
  ui.tokenState.textContent =
    remaining === 0
      ? gatewayManaged
        ? "expired: the gateway refreshes it on the next call"
        : "expired: the client refreshes it before the next call"
      : "";
}

async function callApi(): Promise<number> {
  const response = await client.fetch("/api/me");
  const text = await response.text();
  ui.apiResult.textContent = `${response.status} ${response.statusText}\n${text}`;
  return response.status;
}

ui.loginForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  ui.loginError.textContent = "";
  try {
    await client.login(ui.username.value, ui.password.value);
    ui.callApi.focus();
    await sessionsPanel.show();
  } catch (error) {
    const message =
      error instanceof PortcullisClientError && error.code === "credentials_invalid"
        ? "Wrong username or password."
        : error instanceof PortcullisClientError && error.code === "rate_limited"
          ? "Too many attempts; wait a minute."
          : "Login failed; is the gateway running?";
    ui.loginError.textContent = message;
  }
});

ui.callApi.addEventListener("click", async () => {
  const status = await callApi();
  log(`GET /api/me → ${status}`);
});

ui.callParallel.addEventListener("click", async () => {
  const statuses = await Promise.all(Array.from({ length: PARALLEL_CALLS }, () => callApi()));
  const ok = statuses.filter((status) => status === 200).length;
  log(`${PARALLEL_CALLS} parallel calls to GET /api/me → ${ok} answered 200`);
  ui.apiResult.dataset.parallelOk = String(ok);
});

ui.logout.addEventListener("click", async () => {
  try {
    // A session begun at the identity provider: the gateway says where to end the IdP's too.
    const { endSessionUrl } = await client.logout();
    if (endSessionUrl !== undefined) {
      ui.idpLogout.href = endSessionUrl;
      ui.idpLogoutNotice.hidden = false;
    }
  } catch {
    log("The gateway could not be reached to end the session", "ended");
  }
});

setInterval(renderCountdown, 250);
render();
// Resolves undefined (never rejects) where no key could be made: the client then sends bearer tokens.
void client.dpopThumbprint().then((thumbprint) => {
  ui.thumbprint.textContent = thumbprint ?? "none: this browser sends bearer tokens";
  ui.thumbprint.dataset.thumbprint = thumbprint ?? "";
});
log("Page loaded; looking for a session (POST /auth/refresh with the cookie)");
client.resume().then(
  (found) => {
    if (!found) log("No session: log in");
    else void sessionsPanel.show();
    document.body.dataset.ready = "true";
    render();
  },
  () => {
    document.body.dataset.ready = "true";
  },
);
