/** What the cost bench needs besides the rows: the "before" bundle, sessions, logouts. */
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, symlinkSync } from "node:fs";
import path from "node:path";
import { ROOT } from "../test/support/build-worker";
import type { TestKey } from "../test/support/test-keys";
import { decodeClaims, mintToken } from "../test/support/tokens";
import { TEST_USERS } from "../test/support/upstream";

/**
 * Bundle the Worker as it was at `ref`, with this checkout's node_modules. Only the bundle
 * is kept: the unpacked tree's package.json would otherwise meet the package checks
 * (publint) of the next `npm test`.
 */
export function bundleAt(ref: string): string {
  const dir = path.join(ROOT, "dist/bench-at", ref.replace(/[^A-Za-z0-9._-]/g, "_"));
  rmSync(dir, { recursive: true, force: true });
  const tree = path.join(dir, "tree");
  mkdirSync(tree, { recursive: true });
  const archive = execFileSync("git", ["archive", ref, "src", "wrangler.toml", "tsconfig.json", "package.json"], {
    cwd: ROOT,
  });
  execFileSync("tar", ["-x", "-C", tree], { input: archive });
  symlinkSync(path.join(ROOT, "node_modules"), path.join(tree, "node_modules"));
  const out = path.join(dir, "bundle");
  execFileSync(
    path.join(ROOT, "node_modules/.bin/wrangler"),
    ["deploy", "--dry-run", "--env", "production", "--outdir", out],
    { cwd: tree, stdio: "pipe", env: { ...process.env, WRANGLER_SEND_METRICS: "false", WRANGLER_LOG: "error" } },
  );
  rmSync(tree, { recursive: true, force: true });
  return path.join(out, "index.js");
}

export interface Session {
  readonly accessToken: string;
  readonly expired: string;
  readonly refreshToken: string;
}

/** Log in `count` times through POST /auth/login; each session also gets an expired access token. */
export async function login(url: string, key: TestKey, count: number): Promise<Session[]> {
  const users = Object.entries(TEST_USERS);
  const sessions: Session[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const [username, user] = users[next++ % users.length] as [string, { password: string }];
      const attempt = () =>
        fetch(`${url}/auth/login`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ username, password: user.password }),
        });
      let response = await attempt();
      // The test upstream closes idle keep-alive connections after 1 s, which workerd can
      // report as a lost connection to the credential check (503); a retry is what a client does.
      for (let retry = 0; retry < 3 && response.status === 503; retry++) {
        await response.arrayBuffer();
        response = await attempt();
      }
      if (response.status !== 200) throw new Error(`login answered ${response.status}: ${await response.text()}`);
      const body = (await response.json()) as { access_token: string };
      const cookie = response.headers.getSetCookie().find((line) => line.startsWith("__Host-portcullis-refresh="));
      const refreshToken = cookie?.split(";")[0]?.split("=")[1] ?? "";
      // The same session's access token, as if its 15 minutes had passed.
      const { sub, sid, auth_time, scope, roles } = decodeClaims(body.access_token);
      const expired = await mintToken(key, {
        claims: { sub, sid, auth_time, scope, roles } as never,
        iatOffset: -3600,
        ttl: 900,
      });
      sessions.push({ accessToken: body.access_token, expired, refreshToken });
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return sessions;
}

/** POST /auth/logout for each session (access token and refresh cookie), 8 at a time. */
export async function runLogouts(url: string, sessions: readonly Session[]): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < sessions.length) {
      const session = sessions[next++] as Session;
      const response = await fetch(`${url}/auth/logout`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${session.accessToken}`,
          cookie: `__Host-portcullis-refresh=${session.refreshToken}`,
        },
      });
      await response.arrayBuffer();
      if (response.status !== 204) throw new Error(`logout answered ${response.status}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}
