/**
 * Structured JSON logs, one object per line.
 *
 * Fields are chosen by the caller from a closed vocabulary of safe values; there is no
 * way to log a header, cookie or token wholesale. As a second line of defence, any string
 * that looks like a JWT or a refresh token is masked before it is written.
 */

type Level = "info" | "warn" | "error";
export type LogFields = Record<string, string | number | boolean | undefined | null>;

const JWT_LIKE = /[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g;
const LONG_OPAQUE = /[A-Za-z0-9_-]{40,}/g;

/** Shorter than anything either pattern matches: a JWT-like value has 26 characters at least. */
const SHORTEST_MASKED = 26;

function mask(value: string): string {
  if (value.length < SHORTEST_MASKED) return value;
  return value.replace(JWT_LIKE, "[redacted-token]").replace(LONG_OPAQUE, "[redacted]");
}

function write(level: Level, event: string, fields: LogFields = {}): void {
  const entry: Record<string, unknown> = { level, event, time: new Date().toISOString() };
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    entry[key] = typeof value === "string" ? mask(value) : value;
  }
  const line = JSON.stringify(entry);
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}

export const log = {
  info: (event: string, fields?: LogFields) => write("info", event, fields),
  warn: (event: string, fields?: LogFields) => write("warn", event, fields),
  error: (event: string, fields?: LogFields) => write("error", event, fields),
  /** A security event (failed login, reuse, revocation, rate limit): always logged, marked. */
  security: (event: string, fields?: LogFields) => write("warn", event, { ...fields, security: true }),
};
