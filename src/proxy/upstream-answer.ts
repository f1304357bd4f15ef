/**
 * What of the upstream's answer reaches the client: its status, body and headers, except
 * what the upstream may not say for the gateway.
 *
 * - Hop-by-hop headers (RFC 9110 §7.6.1) describe the upstream's connection. workerd drops
 *   the connection-level ones itself when it writes an answer (`connection`, `keep-alive`,
 *   `te`, `trailer`, `transfer-encoding`, `upgrade` are kj's built-in connection headers,
 *   measured on a raw socket); what it would write are `proxy-connection` and the headers
 *   that `Connection` names, so those are deleted here.
 * - The gateway's own answer headers, `Authorization` (the browser SDK would adopt it as an
 *   access token), `Proxy-Authenticate` and `Clear-Site-Data`, under any spelling
 *   (canonical/header-names.ts).
 * - `Set-Cookie` for a cookie the gateway owns: the upstream can neither plant nor clear one.
 *
 * One pass over the answer's headers, and a change only where there is something to drop.
 */
import { headerKey, isDroppedResponseHeader } from "../canonical/header-names";
import { setsGatewayCookie } from "../http/cookies";

const WRITTEN_BY_RUNTIME = new Set(["connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade"]);

/** Removes from `headers` (an answer's own, mutable headers) what the upstream may not send. */
export function filterUpstreamAnswer(headers: Headers): void {
  let connection: string | undefined;
  let dropped: string[] | undefined;
  let cookies = false;
  for (const [name, value] of headers) {
    if (name === "set-cookie") {
      cookies = true;
      continue;
    }
    if (name === "connection") connection = value;
    if (isDroppedResponseHeader(headerKey(name))) {
      dropped ??= [];
      dropped.push(name);
    }
  }
  if (connection !== undefined) {
    for (const option of connection.split(",")) {
      const name = option.trim().toLowerCase();
      if (name !== "" && !WRITTEN_BY_RUNTIME.has(name)) headers.delete(name);
    }
  }
  if (dropped !== undefined) for (const name of dropped) headers.delete(name);
  if (cookies) keepUpstreamCookies(headers);
}

function keepUpstreamCookies(headers: Headers): void {
  const all = headers.getSetCookie();
  if (!all.some(setsGatewayCookie)) return;
  headers.delete("set-cookie");
  for (const cookie of all) if (!setsGatewayCookie(cookie)) headers.append("set-cookie", cookie);
}
