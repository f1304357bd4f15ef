/**
 * `return_to` for a login: a same-origin path, nothing else. Absolute URLs, `//host`,
 * `/\host`, their percent-encoded and whitespace/control-character variants, and
 * `javascript:` are refused. The check decodes once more than a browser would, then
 * parses the value as a browser would and checks the *result*: it must stay on our origin
 * and its path must have a canonical form (canonical/canonical-path.ts), which is what is
 * handed back. "/.//evil.example/x" parses to the path "//evil.example/x", which a
 * `Location` header would send to another host: refused.
 */
import { canonicalPath } from "../canonical/canonical-path";

const MAX_RETURN_TO = 2048;
const PLACEHOLDER_ORIGIN = "https://portcullis.invalid";

/** The path to return to, or undefined when `value` is not a safe same-origin path. */
export function safeReturnTo(value: string | null | undefined): string | undefined {
  if (value === null || value === undefined || value === "") return "/";
  if (value.length > MAX_RETURN_TO) return undefined;
  let decoded: string;
  try {
    decoded = decodeURIComponent(value);
  } catch {
    return undefined;
  }
  for (const candidate of [value, decoded]) {
    // A path starts with exactly one "/"; "//" and "/\" are protocol-relative in browsers.
    if (!candidate.startsWith("/") || candidate.startsWith("//") || candidate.startsWith("/\\")) return undefined;
    // Control characters and backslashes anywhere get normalised away or into "/" by browsers.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
    if (/[\u0000-\u001f\u007f\\]/.test(candidate)) return undefined;
  }
  const url = new URL(value, PLACEHOLDER_ORIGIN);
  if (url.origin !== PLACEHOLDER_ORIGIN) return undefined;
  const path = canonicalPath(url.pathname);
  if (!path.ok || path.path.startsWith("//")) return undefined;
  return `${path.path}${url.search}${url.hash}`;
}
