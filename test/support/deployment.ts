/**
 * One deployment of the gateway, deployed again with changed settings while its storage
 * stays, as `wrangler secret put`, `wrangler secret delete` and `wrangler deploy` do to a
 * running gateway. Each deploy is a fresh workerd (fresh isolates: no in-memory cache
 * survives) on the same KV namespace and Durable Objects, which miniflare keeps in a
 * persistence directory, in front of the same upstream.
 *
 *   const deployment = await startDeployment({ SIGNING_KEYS: "[…]" });
 *   await deployment.gateway.fetch("/api/x");                          // the live deploy
 *   await deployment.redeploy({ SIGNING_KEYS_PREVIOUS: jwks });        // wrangler secret put
 *   await deployment.redeploy({ SIGNING_KEYS_PREVIOUS: undefined });   // wrangler secret delete
 *
 * `afterStart` runs after every deploy (e.g. registering the new URL at the test IdP).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { type Gateway, startGateway } from "./gateway";
import { startUpstream, type TestUpstream } from "./upstream";

export interface DeploymentOptions {
  readonly upstream?: TestUpstream;
  readonly afterStart?: (gateway: Gateway) => Promise<void>;
}

export interface Deployment {
  /** The gateway as deployed now. */
  readonly gateway: Gateway;
  readonly upstream: TestUpstream;
  /** The settings deployed now (a setting set to undefined is absent). */
  readonly settings: Readonly<Record<string, unknown>>;
  /** Deploys again with these changes; `undefined` removes a setting. Resolves to the new gateway. */
  redeploy(changes: Record<string, unknown>): Promise<Gateway>;
  close(): Promise<void>;
}

export async function startDeployment(
  settings: Record<string, unknown>,
  options: DeploymentOptions = {},
): Promise<Deployment> {
  const upstream = options.upstream ?? (await startUpstream());
  const storage = mkdtempSync(path.join(tmpdir(), "portcullis-deployment-"));
  let current: Record<string, unknown> = { ...settings };

  const deploy = async (): Promise<Gateway> => {
    const vars = Object.fromEntries(Object.entries(current).filter(([, value]) => value !== undefined));
    const omit = Object.keys(current).filter((name) => current[name] === undefined);
    const started = await startGateway({
      upstream,
      vars,
      omit,
      sharedOptions: {
        kvPersist: path.join(storage, "kv"),
        durableObjectsPersist: path.join(storage, "do"),
      },
    });
    await options.afterStart?.(started);
    return started;
  };

  let gateway = await deploy();
  return {
    get gateway() {
      return gateway;
    },
    upstream,
    get settings() {
      return current;
    },
    redeploy: async (changes) => {
      current = { ...current, ...changes };
      await gateway.close();
      gateway = await deploy();
      return gateway;
    },
    close: async () => {
      await gateway.close();
      if (!options.upstream) await upstream.close();
      rmSync(storage, { recursive: true, force: true });
    },
  };
}
