/**
 * A tiny demo API to put behind Portcullis.
 *
 *   GET  /                       a short welcome (public route in the dev config)
 *   GET  /public/hello           public
 *   GET  /api/me                 protected: echoes the identity the gateway verified
 *   GET  /api/admin/stats        protected, needs scope "admin"
 *   ANY  /api/echo               protected: method, path, headers and body size it received
 *   POST /portcullis/credential-check   the credential check the gateway calls at login
 *
 * Demo users (documented in the README): alice / wonderland (scopes "read write"),
 * admin / portcullis (scopes "read write admin", role "operator").
 */

interface DemoEnv {
  CREDENTIAL_CHECK_SECRET: string;
}

interface DemoUser {
  password: string;
  sub: string;
  scope: string;
  roles: string[];
}

const USERS: Record<string, DemoUser> = {
  alice: { password: "wonderland", sub: "user-alice", scope: "read write", roles: ["member"] },
  admin: { password: "portcullis", sub: "user-admin", scope: "read write admin", roles: ["operator"] },
};

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body, null, 2), { status, headers: { "content-type": "application/json" } });
}

async function credentialCheck(request: Request, env: DemoEnv): Promise<Response> {
  if (request.headers.get("x-portcullis-credential-secret") !== env.CREDENTIAL_CHECK_SECRET) {
    return json({ error: "forbidden" }, 403);
  }
  const { username, password } = (await request.json()) as { username?: string; password?: string };
  const user = username === undefined ? undefined : USERS[username];
  if (!user || user.password !== password) return json({ error: "invalid credentials" }, 401);
  return json({ sub: user.sub, scope: user.scope, roles: user.roles });
}

export default {
  async fetch(request: Request, env: DemoEnv): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/portcullis/credential-check" && request.method === "POST")
      return credentialCheck(request, env);
    if (url.pathname === "/") return json({ service: "portcullis demo upstream", try: ["/public/hello", "/api/me"] });
    if (url.pathname === "/public/hello") return json({ hello: "world", authenticated: false });
    if (url.pathname === "/api/me") {
      return json({
        subject: request.headers.get("x-auth-subject"),
        session: request.headers.get("x-auth-session"),
        scopes: request.headers.get("x-auth-scopes"),
        roles: request.headers.get("x-auth-roles"),
      });
    }
    if (url.pathname === "/api/admin/stats") return json({ users: Object.keys(USERS).length });
    // Behind a step-up rule in the demo's ROUTES: only a sign-in with a second factor gets here.
    if (url.pathname === "/api/billing/summary") {
      return json({ subject: request.headers.get("x-auth-subject"), invoices: 3, due: "EUR 120.00" });
    }
    if (url.pathname === "/api/echo") {
      const body = await request.arrayBuffer();
      return json({
        method: request.method,
        path: url.pathname + url.search,
        headers: Object.fromEntries(request.headers),
        bodyBytes: body.byteLength,
      });
    }
    return json({ error: "not found" }, 404);
  },
};
