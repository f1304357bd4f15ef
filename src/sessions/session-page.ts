/**
 * Pages of a subject's sessions: newest first, a bounded number at a time, and a cursor
 * that names the last session a page held. Plain functions shared by the index object
 * (subject-sessions.ts), which cuts the pages, and the Worker, which checks a client's
 * cursor before asking the object.
 *
 * The cursor is a position (creation time and session id), not an offset: a walk through
 * the pages returns every session that stays listed during it exactly once, however many
 * sessions begin or end meanwhile (a new one sorts before the cursor, so it is not in the
 * walk; one that ended is simply not there). It is opaque to clients but not secret: it
 * only says where in the caller's own list to go on.
 */
import { base64url } from "jose";
import { isSessionId } from "./refresh-token";
import type { SessionEntry } from "./subject-session-entry";

/** Sessions per page when the client names no `limit`. */
export const DEFAULT_PAGE_SIZE = 50;
/** The most a client may ask for in one page: an answer stays about 25 KB. */
export const MAX_PAGE_SIZE = 100;

/** Where a page ended: the last session it held. */
export interface PagePosition {
  readonly createdAt: number;
  readonly sid: string;
}

export interface SessionPage {
  readonly entries: SessionEntry[];
  /** Where the next page begins; undefined on the last page. */
  readonly next?: PagePosition;
}

const CURSOR_TEXT = /^(0|[1-9][0-9]{0,15})\.([A-Za-z0-9_-]{22})$/;

export function encodeCursor(position: PagePosition): string {
  return base64url.encode(`${position.createdAt}.${position.sid}`);
}

/** The position a cursor names, or undefined for anything this list never handed out. */
export function decodeCursor(cursor: string): PagePosition | undefined {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(cursor)) return undefined;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(base64url.decode(cursor));
  } catch {
    return undefined;
  }
  const match = CURSOR_TEXT.exec(text);
  if (match === null) return undefined;
  const createdAt = Number(match[1]);
  const sid = match[2] as string;
  if (!Number.isSafeInteger(createdAt) || !isSessionId(sid)) return undefined;
  return { createdAt, sid };
}

/** Newest first; sessions that began in the same millisecond by id, so the order is total. */
function before(a: PagePosition, b: PagePosition): boolean {
  return a.createdAt > b.createdAt || (a.createdAt === b.createdAt && a.sid < b.sid);
}

/** Sort newest first. */
export function newestFirst(entries: Iterable<SessionEntry>): SessionEntry[] {
  return [...entries].sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0));
}

/** At most `limit` of `entries`, those that come after `after` in the list's order. */
export function cutPage(entries: Iterable<SessionEntry>, limit: number, after?: PagePosition): SessionPage {
  const rest = newestFirst(after === undefined ? entries : [...entries].filter((entry) => before(after, entry)));
  const page = rest.slice(0, limit);
  const last = page.at(-1);
  if (rest.length <= limit || last === undefined) return { entries: page };
  return { entries: page, next: { createdAt: last.createdAt, sid: last.sid } };
}
