/**
 * One HTTP server on 127.0.0.1 in front of every differential upstream: the test upstream
 * of test/support/upstream.ts (so the gateway can use it as is), with one route that hands
 * each request to the upstream its `x-differential-upstream` header names, after noting
 * its arrival in the hit log.
 */
import { startUpstream, type TestUpstream } from "../upstream";
import { laravelUpstream, nginxUpstream, nodeUpstream, servletUpstream } from "./emulated-upstreams";
import {
  expressUpstream,
  fastifyUpstream,
  honoUpstream,
  koaUpstream,
  type UpstreamListener,
} from "./framework-upstreams";
import { HitLog, UPSTREAM_HEADER } from "./handlers";

export const UPSTREAM_NAMES = ["express", "hono", "fastify", "koa", "node", "servlet", "nginx", "laravel"] as const;
export type UpstreamName = (typeof UPSTREAM_NAMES)[number];

export interface DifferentialUpstreams {
  /** The shared server, ready for `startGateway({ upstream })` or for direct requests. */
  readonly upstream: TestUpstream;
  readonly log: HitLog;
  close(): Promise<void>;
}

export async function startDifferentialUpstreams(): Promise<DifferentialUpstreams> {
  const log = new HitLog();
  const listeners = new Map<string, UpstreamListener>([
    ["express", expressUpstream(log)],
    ["hono", honoUpstream(log)],
    ["fastify", await fastifyUpstream(log)],
    ["koa", koaUpstream(log)],
    ["node", nodeUpstream(log)],
    ["servlet", servletUpstream(log)],
    ["nginx", nginxUpstream(log)],
    ["laravel", laravelUpstream(log)],
  ] satisfies [UpstreamName, UpstreamListener][]);
  // The arrivals are the log; the test upstream need not keep its own copy of each.
  const upstream = await startUpstream({ record: false });
  upstream.route("/*", (request, response) => {
    const name = request.headers[UPSTREAM_HEADER];
    const listener = typeof name === "string" ? listeners.get(name) : undefined;
    if (listener === undefined) {
      // A harness mistake, not a finding: a 5xx, so the suite fails loudly.
      response.writeHead(500, { "content-type": "text/plain" }).end(`no differential upstream named ${String(name)}`);
      return;
    }
    log.arrived(name as string, request);
    return listener(request, response);
  });
  return { upstream, log, close: () => upstream.close() };
}
