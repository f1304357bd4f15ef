/**
 * One exchange with a decision service: the POST of decision-request.ts, and its answer
 * read strictly. The whole exchange, answer body included, ends within the rule's
 * `timeout_ms`; it never throws: every way it can go wrong is a Verdict of kind "failed"
 * with a reason for the log, and the caller fails closed.
 *
 * The answer that decides: status 200, a JSON object (at most MAX_ANSWER_BYTES) with a
 * boolean `allow`, and optionally `cache_seconds`, a whole number from 0 to
 * MAX_CACHE_SECONDS. Other members are ignored. Anything else decides nothing.
 */
import { readCappedBytes } from "../http/read-body";
import type { ExternalDecision } from "../policy/external-decision";
import { type DecisionRequestBody, decisionRequest } from "./decision-request";

export const MAX_ANSWER_BYTES = 8192;
export const MAX_CACHE_SECONDS = 300;

/** What a service binding offers that the gateway uses. */
export interface DecisionService {
  fetch(request: Request): Promise<Response>;
}

export type Verdict =
  | { readonly kind: "allow" | "deny"; readonly cacheSeconds: number }
  /** No decision: `reason` says why, for the log ("timeout after 500 ms", "status 500", "not JSON"). */
  | { readonly kind: "failed"; readonly reason: string; readonly timeout?: true };

function failed(reason: string): Verdict {
  return { kind: "failed", reason };
}

/** Ask `service` about `body`; resolves within `decision.timeoutMs` (and a tick). */
export async function askDecision(
  service: DecisionService,
  decision: ExternalDecision,
  body: DecisionRequestBody,
): Promise<Verdict> {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | null = null;
  const deadline = new Promise<Verdict>((resolve) => {
    timer = setTimeout(() => {
      resolve({ kind: "failed", reason: `timeout after ${decision.timeoutMs} ms`, timeout: true });
      controller.abort();
    }, decision.timeoutMs);
  });
  try {
    return await Promise.race([exchange(service, body, controller.signal), deadline]);
  } finally {
    if (timer !== null) clearTimeout(timer);
  }
}

/** The request and the answer read; never rejects (a late rejection after the deadline is swallowed too). */
async function exchange(service: DecisionService, body: DecisionRequestBody, signal: AbortSignal): Promise<Verdict> {
  let response: Response;
  try {
    response = await service.fetch(decisionRequest(body, signal));
  } catch (error) {
    // The error's name only: a message could hold anything the platform or service put there.
    return failed(`the call failed (${(error as Error)?.name ?? "error"})`);
  }
  try {
    if (response.status !== 200) {
      await response.body?.cancel();
      return failed(`status ${response.status}`);
    }
    const text = await readLimited(response);
    if (text === undefined) return failed(`an answer longer than ${MAX_ANSWER_BYTES} bytes`);
    return verdictOf(text);
  } catch (error) {
    return failed(`the answer could not be read (${(error as Error)?.name ?? "error"})`);
  }
}

/** The body as text, or undefined when it is longer than MAX_ANSWER_BYTES (the rest is not read). */
async function readLimited(response: Response): Promise<string | undefined> {
  const bytes = await readCappedBytes(response.body, MAX_ANSWER_BYTES);
  return bytes === undefined ? undefined : new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
}

/** A 200 answer's body read as a verdict. */
export function verdictOf(text: string): Verdict {
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch {
    return failed("an answer that is not JSON");
  }
  if (typeof answer !== "object" || answer === null || Array.isArray(answer)) {
    return failed("an answer that is not a JSON object");
  }
  const { allow, cache_seconds: cacheSeconds = 0 } = answer as { allow?: unknown; cache_seconds?: unknown };
  if (typeof allow !== "boolean") return failed('an answer without a boolean "allow"');
  if (
    typeof cacheSeconds !== "number" ||
    !Number.isInteger(cacheSeconds) ||
    cacheSeconds < 0 ||
    cacheSeconds > MAX_CACHE_SECONDS
  ) {
    return failed(`an answer whose "cache_seconds" is not a whole number from 0 to ${MAX_CACHE_SECONDS}`);
  }
  return { kind: allow ? "allow" : "deny", cacheSeconds };
}
