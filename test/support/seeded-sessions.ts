/**
 * Many sessions of one subject, quickly: each is created in its own session object and
 * listed in the subject's index through the Durable Object namespaces of the running
 * gateway (as a login does, without 5,000 HTTP logins), and its access token is minted
 * with the gateway's test key (as the gateway would sign it). Each seeded session is a
 * real one: its refresh token works, its access token is accepted.
 *
 * Also: a credential check that vouches for any subject, so a test can log in as a
 * subject no other test touches.
 */
import type { Gateway } from "./gateway";
import { TEST_SECRETS } from "./test-keys";
import { mintToken } from "./tokens";
import { CREDENTIAL_CHECK_PATH, type TestUpstream } from "./upstream";

export interface SeededSession {
  readonly sid: string;
  readonly accessToken: string;
  readonly refreshToken: string;
}

const REFRESH_TTL_SECONDS = 2_592_000;
const IDLE_TTL_SECONDS = 604_800;
const SEEDER = "session-seeder";
const SESSIONS_PER_CALL = 400;

/**
 * A Worker in the gateway's workerd, bound to the gateway's own Durable Object classes:
 * it creates the sessions there, many calls at once, where each takes well under a
 * millisecond (through miniflare's proxy from Node each takes about 30 ms).
 */
const SEEDER_SCRIPT = `
const bytes = (n) => crypto.getRandomValues(new Uint8Array(n));
const base64url = (b) => btoa(String.fromCharCode(...b)).replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
export default {
  async fetch(request, env) {
    const { sub, count, start, refreshTtlSeconds, idleTtlSeconds } = await request.json();
    const index = env.SUBJECT_SESSIONS.get(env.SUBJECT_SESSIONS.idFromName("sub:" + sub));
    const seeded = new Array(count);
    let next = 0;
    const one = async (position) => {
      const sid = base64url(bytes(16));
      const createdAt = start + position;
      const session = env.SESSIONS.get(env.SESSIONS.idFromName(sid));
      const { refreshToken } = await session.create({ sid, sub, scope: ["read"], roles: [], now: createdAt, refreshTtlSeconds, idleTtlSeconds });
      const entry = { sid, createdAt, lastUsedAt: createdAt, expiresAt: createdAt + refreshTtlSeconds * 1000,
        idleTimeoutMs: idleTtlSeconds * 1000, method: "password", device: "Seeded device" };
      await index.add({ entry, max: 0, now: Date.now() });
      seeded[position] = { sid, refreshToken, createdAt };
    };
    const worker = async () => { while (next < count) await one(next++); };
    await Promise.all(Array.from({ length: Math.min(64, count) }, worker));
    return Response.json(seeded);
  },
};
`;

/** The extra Worker `seedSessions` needs: pass it to startGateway's `extraWorkers`. */
export function sessionSeeder(): Record<string, unknown> {
  const bound = (className: string) => ({ className, scriptName: "portcullis", useSQLite: true });
  return {
    name: SEEDER,
    modules: [{ type: "ESModule", path: "seeder.mjs", contents: SEEDER_SCRIPT }],
    compatibilityDate: "2026-04-01",
    durableObjects: { SESSIONS: bound("SessionObject"), SUBJECT_SESSIONS: bound("SubjectSessions") },
  };
}

/** The subject's index object, for the RPC calls a test makes (page, cleanupStatus…). */
export async function indexOf<T>(gateway: Gateway, sub: string): Promise<T> {
  const namespace = await gateway.mf.getDurableObjectNamespace("SUBJECT_SESSIONS");
  return namespace.get(namespace.idFromName(`sub:${sub}`)) as unknown as T;
}

/**
 * `count` sessions of `sub`, begun `ageMs` ago (so a revocation made now covers them),
 * oldest first. The gateway must run the seeder (`sessionSeeder()`).
 */
export async function seedSessions(
  gateway: Gateway,
  sub: string,
  count: number,
  ageMs = 5_000,
): Promise<SeededSession[]> {
  const seeder = await gateway.mf.getWorker(SEEDER);
  const start = Date.now() - ageMs;
  const created: { sid: string; refreshToken: string; createdAt: number }[] = [];
  // Two calls a session; one invocation of a Worker may make at most 1,000 here, as on the Paid plan.
  for (let offset = 0; offset < count; offset += SESSIONS_PER_CALL) {
    const response = await seeder.fetch("http://seeder/", {
      method: "POST",
      body: JSON.stringify({
        sub,
        count: Math.min(SESSIONS_PER_CALL, count - offset),
        start: start + offset,
        refreshTtlSeconds: REFRESH_TTL_SECONDS,
        idleTtlSeconds: IDLE_TTL_SECONDS,
      }),
    });
    if (response.status !== 200) throw new Error(`seeding answered ${response.status}: ${await response.text()}`);
    created.push(...((await response.json()) as typeof created));
  }
  return Promise.all(
    created.map(async ({ sid, refreshToken, createdAt }) => ({
      sid,
      refreshToken,
      accessToken: await mintToken(gateway.key, {
        claims: { sub, sid, auth_time: Math.floor(createdAt / 1000), scope: "read" },
        ttl: 900,
      }),
    })),
  );
}

/** The upstream's credential check vouches for any username with this password, as subject `user-<username>`. */
export const ANY_SUBJECT_PASSWORD = "any subject";

export function vouchForAnySubject(upstream: TestUpstream): void {
  upstream.route(CREDENTIAL_CHECK_PATH, async (request, response) => {
    const body = JSON.parse(Buffer.concat(await request.toArray()).toString("utf8") || "{}");
    if (request.headers["x-portcullis-credential-secret"] !== TEST_SECRETS.CREDENTIAL_CHECK_SECRET) {
      response.writeHead(403).end();
      return;
    }
    if (body.password !== ANY_SUBJECT_PASSWORD || typeof body.username !== "string") {
      response.writeHead(401, { "content-type": "application/json" }).end('{"error":"invalid"}');
      return;
    }
    response
      .writeHead(200, { "content-type": "application/json" })
      .end(JSON.stringify({ sub: `user-${body.username}`, scope: "read", roles: [] }));
  });
}
