/**
 * The benchmark's upstream, in its own process so the load generator and the servers
 * under test never share its event loop: the test suite's recording upstream
 * (test/support/upstream.ts) with recording off, plus `/api/stream/<bytes>` for the
 * download test. Prints `{"url": ...}` once it listens; exits on SIGTERM or when its
 * parent goes away.
 */
import { startUpstream } from "../test/support/upstream";
import { writeBytes } from "../test/support/write-bytes";

const CHUNK = Buffer.alloc(64 * 1024, 0x61);

const upstream = await startUpstream({ record: false });
upstream.route("/api/stream/*", (request, response) => {
  const total = Number((request.url ?? "").split("?")[0]?.split("/").at(-1) ?? "0");
  response.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(total) });
  writeBytes(response, total, CHUNK);
});

const shutdown = () => {
  void upstream.close().finally(() => process.exit(0));
};
process.once("SIGTERM", shutdown);
process.once("SIGINT", shutdown);
process.stdin.on("close", shutdown);
process.stdin.resume();
process.stdout.write(`${JSON.stringify({ url: upstream.url })}\n`);
