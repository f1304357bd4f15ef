/**
 * Sending a request-target exactly as written. `fetch` and browsers normalize a URL before
 * it leaves (dot segments, backslashes, case of escapes), which would hide the very
 * spellings under test; node:http writes the path it is given into the request line.
 */
import http from "node:http";

export interface RawRequest {
  readonly port: number;
  /** The request-target, byte for byte (characters \u0021-\u00ff only: node:http refuses others). */
  readonly target: string;
  readonly method: string;
  readonly headers: http.OutgoingHttpHeaders;
  readonly body?: string;
  readonly agent: http.Agent;
}

export interface RawAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

/** node:http's own check on request paths: what it would refuse to send. */
export const SENDABLE_TARGET = /^[\u0021-\u00ff]+$/;

export function sendRaw(request: RawRequest): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const outgoing = http.request(
      {
        host: "127.0.0.1",
        port: request.port,
        path: request.target,
        method: request.method,
        headers: request.headers,
        agent: request.agent,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("error", reject);
        response.on("end", () =>
          resolve({
            status: response.statusCode ?? 0,
            contentType: response.headers["content-type"] ?? "",
            body: Buffer.concat(chunks).toString("utf8"),
          }),
        );
      },
    );
    outgoing.on("error", reject);
    outgoing.end(request.body);
  });
}

/** Runs `work` on every item with at most `limit` in flight; results in the items' order. */
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next;
      next += 1;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
