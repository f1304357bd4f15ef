// An existing Hono app on Workers that adds Portcullis: its own routes, the auth endpoints
// mounted beside them, and the middleware in front of /api/*.
import { Hono } from "hono";
import {
  mountAuthEndpoints,
  type PortcullisOptions,
  type PortcullisVariables,
  portcullis,
  requireScopes,
  requireSignIn,
} from "portcullis/hono";

export { RevocationLedger, SessionObject, SubjectSessions } from "portcullis/hono";

const USERS: Record<string, { password: string; scope: string }> = {
  alice: { password: "wonderland", scope: "read write" },
};

type AppEnv = { Bindings: Env; Variables: PortcullisVariables };
const app = new Hono<AppEnv>();

app.get("/", (c) => c.text("a public page of the app"));

// One options object for the endpoints and the middleware (docs/hono.md).
const auth: PortcullisOptions<AppEnv> = {
  settings: { ACCESS_TOKEN_TTL: 300 },
  checkCredentials: ({ username, password }) => {
    // A user store that fails, and says too much when it does.
    if (username === "broken") throw new Error(`user store down while checking ${password}`);
    const user = USERS[username];
    return user !== undefined && user.password === password ? { sub: username, scope: user.scope } : undefined;
  },
};

mountAuthEndpoints(app, auth);
app.use("/api/*", portcullis(auth));

app.get("/api/me", (c) => {
  const { sub, sid, scopes, roles, claims } = c.var.auth;
  return c.json({
    sub,
    sid,
    scopes: [...scopes],
    roles: [...roles],
    iss: claims.iss,
    audience: c.env.TOKEN_AUDIENCE,
    // What a careless log line of c.var.auth would write.
    serialized: JSON.stringify(c.var.auth),
  });
});

app.get("/api/admin", requireScopes("admin"), (c) => c.text("admin only"));
// Step-up: a second factor, and a sign-in within the last five minutes.
app.post("/api/payouts", requireSignIn({ maxAge: 300, amr: ["otp"] }), (c) => c.text("payout sent"));

export default app;
