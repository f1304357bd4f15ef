/**
 * The one canonical form of a request path: what route rules are judged on, what the
 * upstream receives, what `return_to` may name. Made once per request, at the envelope.
 *
 * The runtime hands over `request.url` already parsed by the WHATWG URL parser: dot
 * segments (also `%2e` forms) are resolved, `\` is `/`, the fragment is gone, and
 * characters outside the path set are percent-encoded. On top of that:
 *
 * - RFC 3986 §6.2.2: `%XX` of an unreserved character is decoded, other escapes get
 *   upper-case hex, and dot segments that only decoding revealed are resolved;
 * - refused, because some upstream would read them differently from the rest: invalid
 *   escapes, `%2F` and `%5C` (encoded slash and backslash), encoded control characters
 *   (`%00`–`%1F`, `%7F`), double encoding (`%25` followed by hex digits), invalid or
 *   overlong UTF-8, `;` in a segment (matrix parameters, `..;`) and empty segments (`//`),
 *   the last three unless a setting allows them (`PathOptions`).
 *
 * A path that is not refused also has its *readings*: the decoded forms that upstreams of
 * some common family route on (the plain decoded path; with parameters stripped, as a
 * servlet container reads it; with slashes merged, as nginx does; with `%2F` as a
 * separator, as a decoding router does; with white space trimmed from each segment, as
 * Spring MVC did). Route rules are matched against every reading,
 * and the strictest decision wins (policy/route-policy.ts). SECURITY.md, "What the
 * upstream sees", has the table.
 */

/** What a deployment allows that the canonical form refuses by default. */
export interface PathOptions {
  /** `;` parameters in segments (matrix parameters): forwarded; rules also match with them stripped. */
  readonly semicolons: boolean;
  /** Empty segments (`//`): forwarded; rules also match with slashes merged. */
  readonly doubleSlashes: boolean;
  /** `%2F` inside a segment: forwarded; rules also match with it read as `/`. */
  readonly encodedSlashes: boolean;
}

export const STRICT_PATHS: PathOptions = Object.freeze({
  semicolons: false,
  doubleSlashes: false,
  encodedSlashes: false,
});

/** Why a path has no single safe reading. Each maps to a sentence in the 400 answer. */
export type PathRefusal =
  | "invalid_escape"
  | "double_encoding"
  | "encoded_slash"
  | "encoded_backslash"
  | "encoded_control"
  | "invalid_utf8"
  | "semicolon"
  | "empty_segment"
  | "padded_dot_segment"
  | "raw_character"
  | "not_a_path";

export const PATH_REFUSALS: Readonly<Record<PathRefusal, string>> = Object.freeze({
  invalid_escape: "The path has a '%' that is not followed by two hex digits.",
  double_encoding: "The path has a percent-encoded '%' (double encoding).",
  encoded_slash: "The path has an encoded '/' (%2F).",
  encoded_backslash: "The path has an encoded '\\' (%5C).",
  encoded_control: "The path has an encoded control character.",
  invalid_utf8: "The path has percent-encoded bytes that are not valid UTF-8.",
  semicolon: "The path has a ';' (path parameters are not accepted here).",
  empty_segment: "The path has an empty segment ('//').",
  padded_dot_segment: "The path has a '.' or '..' segment padded with white space.",
  raw_character: "The path has a character that must be percent-encoded.",
  not_a_path: "The path does not start with '/'.",
});

export type CanonicalPath =
  | {
      readonly ok: true;
      /** What the upstream receives (before the query). */
      readonly path: string;
      /** The decoded readings rules are matched against; the first is the plain decoded path. */
      readonly readings: readonly string[];
    }
  | { readonly ok: false; readonly refusal: PathRefusal };

// Anything that needs a closer look: an escape, a ';', an empty segment, a dot segment.
// biome-ignore lint/suspicious/noControlCharactersInRegex: raw control characters are what it looks for
const NEEDS_WORK = /[%;\\\x00-\x20\x7f]|\/\/|\/\.\.?(?:\/|$)/;
const HEX = /^[0-9A-Fa-f]{2}$/;
const ENCODED_SLASH = "%2F";

/** RFC 3986's unreserved characters: ALPHA / DIGIT / "-" / "." / "_" / "~". */
function isUnreserved(byte: number): boolean {
  return (
    (byte >= 0x41 && byte <= 0x5a) ||
    (byte >= 0x61 && byte <= 0x7a) ||
    (byte >= 0x30 && byte <= 0x39) ||
    byte === 0x2d ||
    byte === 0x2e ||
    byte === 0x5f ||
    byte === 0x7e
  );
}

/** One segment, decoded for matching and re-encoded for forwarding. */
interface Segment {
  /** Canonical encoded form, parameters included. */
  readonly encoded: string;
  /** Decoded, parameters included (a `%3B` stays part of the name). */
  readonly decoded: string;
  /** Decoded, without `;` parameters. */
  readonly name: string;
  readonly hasParameters: boolean;
  readonly hasEncodedSlash: boolean;
}

class Refused {
  constructor(readonly refusal: PathRefusal) {}
}

function hexOf(byte: number): string {
  return `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
}

/** Decodes one part of a segment (no `;` in it): throws Refused. */
function decodePart(raw: string, options: PathOptions): { encoded: string; decoded: string; slash: boolean } {
  let encoded = "";
  let decoded = "";
  let slash = false;
  // A run of escapes of bytes >= 0x80 ("%C3%BC"), decoded together as UTF-8.
  let pending = "";
  const flush = () => {
    if (pending === "") return;
    try {
      // Refuses what is not UTF-8, overlong forms and surrogates included (ECMA-262 Decode).
      decoded += decodeURIComponent(pending);
    } catch {
      throw new Refused("invalid_utf8");
    }
    encoded += pending.toUpperCase();
    pending = "";
  };
  for (let i = 0; i < raw.length; i++) {
    const code = raw.charCodeAt(i);
    if (code !== 0x25) {
      flush();
      // The URL parser encodes what must be; what is left raw here is printable ASCII.
      if (code <= 0x20 || code >= 0x7f || code === 0x5c) throw new Refused("raw_character");
      encoded += raw[i];
      decoded += raw[i];
      continue;
    }
    const hex = raw.slice(i + 1, i + 3);
    if (!HEX.test(hex)) throw new Refused("invalid_escape");
    const byte = Number.parseInt(hex, 16);
    i += 2;
    if (byte >= 0x80) {
      pending += `%${hex}`;
      continue;
    }
    flush();
    if (byte < 0x20 || byte === 0x7f) throw new Refused("encoded_control");
    if (byte === 0x5c) throw new Refused("encoded_backslash");
    if (byte === 0x25 && HEX.test(raw.slice(i + 1, i + 3))) throw new Refused("double_encoding");
    if (byte === 0x2f) {
      if (!options.encodedSlashes) throw new Refused("encoded_slash");
      slash = true;
    }
    // Some servers decode before they strip parameters: an encoded ';' is never taken.
    if (byte === 0x3b) throw new Refused("semicolon");
    if (isUnreserved(byte)) {
      encoded += String.fromCharCode(byte);
    } else {
      encoded += hexOf(byte);
    }
    // An allowed encoded slash stays "%2F" in the decoded form (a literal '%' there would be
    // double encoding, refused above): routers that match the raw path read it so; the
    // readings add the one of routers that decode first (readingsOf).
    decoded += byte === 0x2f ? ENCODED_SLASH : String.fromCharCode(byte);
  }
  flush();
  return { encoded, decoded, slash };
}

function segmentOf(raw: string, options: PathOptions): Segment {
  const semicolon = raw.indexOf(";");
  if (semicolon !== -1 && !options.semicolons) throw new Refused("semicolon");
  const namePart = semicolon === -1 ? raw : raw.slice(0, semicolon);
  const name = decodePart(namePart, options);
  // " .." is ".." to a router that trims white space from segments (readingsOf).
  const trimmed = name.decoded.trim();
  if ((trimmed === "." || trimmed === "..") && trimmed !== name.decoded) throw new Refused("padded_dot_segment");
  // "/a%2F..%2Fb" is "/b" to a router that splits after decoding.
  if (name.slash && name.decoded.split(ENCODED_SLASH).some((part) => part === "." || part === "..")) {
    throw new Refused("encoded_slash");
  }
  if (semicolon === -1) {
    return {
      encoded: name.encoded,
      decoded: name.decoded,
      name: name.decoded,
      hasParameters: false,
      hasEncodedSlash: name.slash,
    };
  }
  const parameters = decodePart(raw.slice(semicolon + 1), options);
  return {
    encoded: `${name.encoded};${parameters.encoded}`,
    decoded: `${name.decoded};${parameters.decoded}`,
    name: name.decoded,
    hasParameters: true,
    hasEncodedSlash: name.slash || parameters.slash,
  };
}

function isDotSegment(segment: Segment): boolean {
  return segment.name === "." || segment.name === "..";
}

/** Resolves dot segments (RFC 3986 §5.2.4) over decoded segments; `..;x` counts as `..`. */
function withoutDotSegments(segments: Segment[]): Segment[] {
  const out: Segment[] = [];
  for (const [index, segment] of segments.entries()) {
    if (!isDotSegment(segment)) {
      out.push(segment);
      continue;
    }
    if (segment.name === "..") out.pop();
    // A trailing dot segment leaves the directory it names: "/a/b/.." is "/a/".
    if (index === segments.length - 1) out.push(EMPTY);
  }
  return out;
}

const EMPTY: Segment = Object.freeze({
  encoded: "",
  decoded: "",
  name: "",
  hasParameters: false,
  hasEncodedSlash: false,
});

/**
 * The canonical form of `pathname` (a URL's path as the runtime parsed it), or why there is
 * none. The common path (no `%`, `;`, `//` or dot segment) is itself, with one reading.
 */
export function canonicalPath(pathname: string, options: PathOptions = STRICT_PATHS): CanonicalPath {
  if (pathname.charCodeAt(0) !== 0x2f) return { ok: false, refusal: "not_a_path" };
  if (!NEEDS_WORK.test(pathname)) return { ok: true, path: pathname, readings: [pathname] };
  let segments: Segment[];
  try {
    segments = pathname
      .slice(1)
      .split("/")
      .map((raw) => segmentOf(raw, options));
  } catch (error) {
    if (error instanceof Refused) return { ok: false, refusal: error.refusal };
    throw error;
  }
  // A `..` that decoding, or a `;`, hid from the URL parser.
  if (segments.some(isDotSegment)) segments = withoutDotSegments(segments);
  const last = segments.length - 1;
  // An empty segment: "//", or ";x" alone, which a servlet container reads as "//".
  const empty = options.doubleSlashes
    ? -1
    : segments.findIndex((segment, index) => segment.name === "" && index !== last);
  if (empty !== -1) return { ok: false, refusal: segments[empty]?.encoded === "" ? "empty_segment" : "semicolon" };
  const path = `/${segments.map((segment) => segment.encoded).join("/")}`;
  return { ok: true, path, readings: readingsOf(segments) };
}

/** The decoded path as each family of upstream reads it, without repeats; the plain one first. */
function readingsOf(segments: readonly Segment[]): string[] {
  const plain = `/${segments.map((segment) => segment.decoded).join("/")}`;
  const readings = new Set([plain]);
  let variants = [segments.map((segment) => segment.decoded)];
  // A servlet container strips `;…` from each segment (then resolves dot segments, done above).
  if (segments.some((segment) => segment.hasParameters)) {
    variants = [...variants, segments.map((segment) => segment.name)];
  }
  // A decoding router reads `%2F` as a separator: its segments are split again.
  if (segments.some((segment) => segment.hasEncodedSlash)) {
    variants = [...variants, ...variants.map((names) => names.flatMap((name) => name.split(ENCODED_SLASH)))];
  }
  // Spring MVC trimmed white space from each segment before it matched (trimTokens, CVE-2016-5007).
  if (variants.some((names) => names.some((name) => name !== name.trim()))) {
    variants = [...variants, ...variants.map((names) => names.map((name) => name.trim()))];
  }
  for (const names of variants) {
    const path = `/${names.join("/")}`;
    readings.add(path);
    // nginx merges repeated slashes before it routes.
    if (path.includes("//")) readings.add(path.replace(/\/{2,}/g, "/"));
  }
  return [...readings];
}
