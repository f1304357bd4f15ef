/**
 * What of the upstream's answer reaches the client: its status, body and headers, except
 * what the upstream may not say for the gateway.
 *
 * - Hop-by-hop headers (RFC 9110 §7.6.1) describe the upstream's connection. workerd drops
 *   the connection-level ones itself when it writes an answer (`connection`, `keep-alive`,
 *   `te`, `trailer`, `transfer-encoding`, `upgrade` are kj's built-in connection headers,
 *   measured on a raw socket); what it would write are `proxy-connection` and the headers
 *   that `Connection` names, so those are deleted here.
 * - `Authorization` (the browser SDK would adopt it as an access token), `Proxy-Authenticate`,
 *   `Clear-Site-Data` and the gateway's own `Portcullis-Degraded` (canonical/header-names.ts).
 * - `Set-Cookie` for a cookie the gateway owns: the upstream can neither plant nor clear one.
 *
 * By exact name, asked one by one: clients read answer headers by their exact names (no
 * client maps `Set_Cookie` to `Set-Cookie`), and asking whether a header is there moves no
 * header's text into JavaScript. One pass over every header cost +48 µs of CPU per request
 * in workerd against +22 µs for the questions (bench:variants, docs/benchmarks.md).
 */
import { RESPONSE_HEADERS_DROPPED } from "../canonical/header-names";
import { setsGatewayCookie } from "../http/cookies";

const WRITTEN_BY_RUNTIME = new Set(["connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade"]);
const ASKED = [...RESPONSE_HEADERS_DROPPED];

/** Removes from `headers` (an answer's own, mutable headers) what the upstream may not send. */
export function filterUpstreamAnswer(headers: Headers): void {
  const connection = headers.get("connection");
  if (connection !== null) {
    for (const option of connection.split(",")) {
      const name = option.trim().toLowerCase();
      if (name !== "" && !WRITTEN_BY_RUNTIME.has(name)) headers.delete(name);
    }
  }
  for (const name of ASKED) if (headers.has(name)) headers.delete(name);
  if (headers.has("set-cookie")) keepUpstreamCookies(headers);
}

function keepUpstreamCookies(headers: Headers): void {
  const all = headers.getSetCookie();
  if (!all.some(setsGatewayCookie)) return;
  headers.delete("set-cookie");
  for (const cookie of all) if (!setsGatewayCookie(cookie)) headers.append("set-cookie", cookie);
}
