/**
 * One call to a session's Durable Object, with a short retry. Apart from Sessions so the
 * retry policy (which errors, how many attempts, how long between) reads on its own, and
 * so the IdP side of sessions (idp-operations.ts) calls the object the same way.
 */
import { GatewayError } from "../errors/gateway-error";
import type { SessionObject } from "./session-object";

/** Calls to a session object, counting the first; retries only errors marked retryable. */
const SESSION_CALL_ATTEMPTS = 3;
const BACKOFF_BASE_MS = 10;

function isRetryable(error: unknown): boolean {
  const marks = error as { retryable?: unknown; overloaded?: unknown } | null;
  return marks?.retryable === true && marks.overloaded !== true;
}

/** Full jitter: anywhere up to 10 ms, then 20 ms, so racing retries spread out. */
function pause(attempt: number): Promise<void> {
  const ms = Math.random() * BACKOFF_BASE_MS * 2 ** (attempt - 1);
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function sessionStub(namespace: DurableObjectNamespace<SessionObject>, sid: string): DurableObjectStub<SessionObject> {
  return namespace.get(namespace.idFromName(sid));
}

/**
 * One call to the session's object. An error the platform marks `.retryable` (and not
 * `.overloaded`, where retrying adds to the load) is retried on a fresh stub after a
 * short jittered backoff, so a transient reset during a login burst is not a 503. A
 * repeated `rotate` is safe: the object answers a racer within the grace window.
 */
export async function callSession<T>(
  namespace: DurableObjectNamespace<SessionObject>,
  sid: string,
  work: (stub: DurableObjectStub<SessionObject>) => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work(sessionStub(namespace, sid));
    } catch (error) {
      if (attempt < SESSION_CALL_ATTEMPTS && isRetryable(error)) {
        await pause(attempt);
        continue;
      }
      throw new GatewayError("session_store_unavailable", {
        detail: `session object call failed (attempt ${attempt})`,
        cause: error,
      });
    }
  }
}
