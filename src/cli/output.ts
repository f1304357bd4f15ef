/**
 * What every command of `portcullis` shares: where it writes (handed in, so a test can
 * read it without a process), its exit statuses, and the one error it throws when it
 * cannot run at all (a usage mistake, a file it cannot read, wrangler missing).
 */

/** Where a command writes: its report, and what went wrong. */
export interface CliOutput {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

/** 0: all is well; 1: the configuration is refused or a case failed; 2: the command could not run. */
export const EXIT = Object.freeze({ ok: 0, failed: 1, unusable: 2 });

export type CliErrorCode = "usage" | "input" | "wrangler";

/** The command could not run: a usage mistake, an input it cannot read, no wrangler. Exit 2. */
export class CliError extends Error {
  readonly code: CliErrorCode;
  constructor(code: CliErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = "CliError";
    this.code = code;
  }
}
