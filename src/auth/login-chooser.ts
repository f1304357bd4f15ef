/**
 * GET /auth/login — the login chooser: one button per provider (plain links, no script),
 * and where any provider lists `email_domains`, an email field that sends the user
 * straight to their organisation's provider with a login_hint (home realm discovery).
 * Where the gateway sends an unauthenticated navigation when there are several providers;
 * with one it goes straight to that one. Carries return_to and a step-up's max_age and
 * acr_values on to the provider's login, which checks them.
 */
import type { OidcConfig } from "../config/config";
import { escapeHtml, htmlHeaders } from "../errors/error-page";
import { GatewayError } from "../errors/gateway-error";
import type { RequestContext } from "../gateway/request-context";
import { LOGIN_CHOOSER_PATH, loginPathOf } from "../oidc/endpoints";
import { safeReturnTo } from "../oidc/return-to";
import { loginProvidersOf } from "./login-provider-of";

/** What the chooser hands on to a provider's login. */
const CARRIED = ["return_to", "max_age", "acr_values"] as const;
const EMAIL = /^[^\s@<>"]{1,64}@([a-z0-9.-]{1,253})$/i;

const STYLE = [
  ":root{color-scheme:light dark;font-family:system-ui,sans-serif;line-height:1.5}",
  "body{max-width:32rem;margin:0 auto;padding:2rem 1.5rem}",
  "a.button,button{display:block;font:inherit;padding:.5rem .9rem;margin:0 0 .6rem;border:1px solid currentColor;border-radius:3px;text-decoration:none;color:inherit;background:none;cursor:pointer;text-align:left}",
  "input{font:inherit;padding:.4rem;width:100%;box-sizing:border-box;margin:.2rem 0 .6rem}",
  "a:focus-visible,button:focus-visible,input:focus-visible{outline:3px solid #2a6df4;outline-offset:2px}",
  ".or{margin:1.2rem 0 .6rem;font-style:italic}.note{color:#c62828}",
].join("");

let styleHash: Promise<string> | undefined;

/** The CSP source that allows exactly STYLE. */
function styleSource(): Promise<string> {
  styleHash ??= crypto.subtle.digest("SHA-256", new TextEncoder().encode(STYLE)).then((digest) => {
    const bytes = String.fromCharCode(...new Uint8Array(digest));
    return `sha256-${btoa(bytes)}`;
  });
  return styleHash;
}

function carried(query: URLSearchParams): URLSearchParams {
  const out = new URLSearchParams();
  for (const name of CARRIED) {
    const value = query.get(name);
    if (value !== null) out.set(name, value);
  }
  return out;
}

/** The provider whose `email_domains` holds this address's domain. */
export function providerForEmail(providers: readonly OidcConfig[], email: string): OidcConfig | undefined {
  const domain = EMAIL.exec(email)?.[1]?.toLowerCase();
  return domain === undefined ? undefined : providers.find((provider) => provider.emailDomains.includes(domain));
}

function redirect(location: string): Response {
  return new Response(null, { status: 302, headers: { location, "cache-control": "no-store" } });
}

export async function handleLoginChooser(context: RequestContext, request: Request): Promise<Response> {
  // Without providers, /auth/login is the password login's alone, and GET is what it always was.
  // (routes.ts's allowedMethods says the same for the other methods.)
  if (context.config.loginProviders.length === 0) throw new GatewayError("method_not_allowed", { allow: "POST" });
  const query = new URL(request.url).searchParams;
  // A step-up can only be met by a provider that can be asked for it: not GitHub.
  const stepUp = query.has("max_age") || query.has("acr_values");
  const providers = loginProvidersOf(context).filter((provider) => !stepUp || provider.kind === "oidc");
  if (providers.length === 0) {
    throw new GatewayError("request_invalid", { detail: "no login provider can meet max_age or acr_values" });
  }
  if (query.has("return_to") && safeReturnTo(query.get("return_to")) === undefined) {
    throw new GatewayError("request_invalid", { detail: "return_to must be a path on this origin" });
  }
  const onward = carried(query);
  const email = query.get("email")?.trim();
  let note: string | undefined;
  if (email !== undefined && email !== "") {
    const provider = email.length <= 254 ? providerForEmail(providers, email) : undefined;
    if (provider !== undefined) {
      onward.set("login_hint", email);
      return redirect(`${loginPathOf(provider)}?${onward}`);
    }
    note = "No sign-in is set up for that address's domain. Choose how to sign in below.";
  } else if (providers.length === 1) {
    return redirect(`${loginPathOf(providers[0] as OidcConfig)}?${onward}`);
  }
  const search = onward.size > 0 ? `?${onward}` : "";
  const buttons = providers
    .map(
      (p) =>
        `<a class="button" href="${escapeHtml(`${loginPathOf(p)}${search}`)}">Sign in with ${escapeHtml(p.label)}</a>`,
    )
    .join("");
  const hidden = [...onward]
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join("");
  const form = providers.some((p) => p.emailDomains.length > 0)
    ? `<p class="or">or, with your work email:</p><form method="get" action="${LOGIN_CHOOSER_PATH}">${hidden}<label for="email">Email</label><input id="email" type="email" name="email" autocomplete="email" required><button type="submit">Continue</button></form>`
    : "";
  const body = [
    `<!doctype html><meta charset="utf-8"><meta name="viewport" content="width=device-width">`,
    `<title>Sign in</title><style>${STYLE}</style><h1>Sign in</h1>`,
    note === undefined ? "" : `<p class="note" role="alert">${escapeHtml(note)}</p>`,
    `<nav aria-label="Sign-in methods">${buttons}</nav>`,
    form,
  ].join("");
  return new Response(body, { status: 200, headers: htmlHeaders(undefined, await styleSource()) });
}
