/**
 * The one error class the client SDK throws. Callers switch on `code`, never on the
 * message; `status` is the gateway's HTTP status when there was an answer.
 */

export type PortcullisClientErrorCode =
  /** The gateway refused the username/password (401). */
  | "credentials_invalid"
  /** The gateway asked us to slow down (429); see `retryAfterSeconds`. */
  | "rate_limited"
  /** Login answered something other than a token response (5xx, bad JSON, …). */
  | "login_failed"
  /** The request never got an answer (offline, DNS, aborted, timed out). */
  | "network_error"
  /** The options passed to `createPortcullisClient` cannot work. */
  | "invalid_options"
  /** `endSession` named no session of this user (404). */
  | "session_not_found"
  /** A sessions call answered something unexpected (401 without a session, 5xx, …); see `status`. */
  | "request_failed";

export interface PortcullisClientErrorOptions {
  readonly status?: number;
  readonly retryAfterSeconds?: number;
  readonly cause?: unknown;
}

export class PortcullisClientError extends Error {
  readonly code: PortcullisClientErrorCode;
  readonly status: number | undefined;
  readonly retryAfterSeconds: number | undefined;

  constructor(code: PortcullisClientErrorCode, message: string, options: PortcullisClientErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = "PortcullisClientError";
    this.code = code;
    this.status = options.status;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}
