/**
 * The query of a sessions list (the user's GET /auth/sessions and the operator's list):
 * `limit` (1–100, default 50) and the opaque `cursor` a previous page handed out as
 * `next_cursor`. Anything else in them is a 400 that names the parameter: the list is
 * the caller's own, so saying which parameter is wrong tells nobody anything.
 */
import { GatewayError } from "../errors/gateway-error";
import {
  DEFAULT_PAGE_SIZE,
  decodeCursor,
  encodeCursor,
  MAX_PAGE_SIZE,
  type PagePosition,
  type SessionPage,
} from "../sessions/session-page";

export interface PageRequest {
  readonly limit: number;
  readonly after?: PagePosition;
}

function refused(detail: string): GatewayError {
  return new GatewayError("request_invalid", { detail, publicDetail: detail });
}

/** The one value of `name`, or undefined; a repeated parameter is refused. */
function single(params: URLSearchParams, name: string): string | undefined {
  const values = params.getAll(name);
  if (values.length > 1) throw refused(`"${name}" may be given once`);
  return values[0];
}

/** `limit` and `cursor` from a list's URL; throws `request_invalid` naming the one that is wrong. */
export function readPageRequest(url: URL): PageRequest {
  const limitText = single(url.searchParams, "limit");
  const cursor = single(url.searchParams, "cursor");
  let limit = DEFAULT_PAGE_SIZE;
  if (limitText !== undefined) {
    limit = /^[1-9][0-9]{0,2}$/.test(limitText) ? Number(limitText) : Number.NaN;
    if (!(limit <= MAX_PAGE_SIZE)) throw refused(`"limit" must be a whole number from 1 to ${MAX_PAGE_SIZE}`);
  }
  if (cursor === undefined) return { limit };
  const after = decodeCursor(cursor);
  if (after === undefined) throw refused('"cursor" is not one this list handed out (use "next_cursor" as given)');
  return { limit, after };
}

/** The cursor of the page after this one, or null on the last page. */
export function nextCursorOf(page: SessionPage): string | null {
  return page.next === undefined ? null : encodeCursor(page.next);
}
