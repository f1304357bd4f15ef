/** Streaming test bodies of a given size without holding them in memory. */
import type { Writable } from "node:stream";

/**
 * Write `total` bytes to `stream` (an HTTP request or response), `chunk` at a time,
 * waiting for "drain" whenever the socket pushes back, then end it.
 */
export function writeBytes(stream: Writable, total: number, chunk: Uint8Array): void {
  let left = total;
  const pump = () => {
    while (left > 0) {
      const size = Math.min(left, chunk.byteLength);
      left -= size;
      if (!stream.write(size === chunk.byteLength ? chunk : chunk.subarray(0, size))) {
        stream.once("drain", pump);
        return;
      }
    }
    stream.end();
  };
  pump();
}
