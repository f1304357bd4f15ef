/**
 * Pieces of the ways servers read a request path, for the emulated upstreams: splitting
 * off the query, percent-decoding (strictly as UTF-8, or byte for byte as nginx does),
 * `;` parameters, slash merging and dot-segment resolution.
 */

/** The path part of a request-target: everything before "?" or "#". */
export function rawPathOf(target: string): string {
  const end = target.search(/[?#]/);
  return end === -1 ? target : target.slice(0, end);
}

/** The query string of a request-target, without "?" and without any fragment. */
export function rawQueryOf(target: string): string {
  const start = target.indexOf("?");
  if (start === -1) return "";
  const end = target.indexOf("#", start);
  return target.slice(start + 1, end === -1 ? undefined : end);
}

/** Percent-decodes as UTF-8, the way `decodeURIComponent` does; undefined when invalid. */
export function decodeUtf8(path: string): string | undefined {
  try {
    return decodeURIComponent(path);
  } catch {
    return undefined;
  }
}

/**
 * Percent-decodes byte for byte, each byte one character (latin1), as nginx compares
 * paths: overlong and invalid UTF-8 decode to bytes that no ASCII route matches.
 * Undefined for a "%" not followed by two hex digits.
 */
export function decodeBytes(path: string): string | undefined {
  let decoded = "";
  for (let index = 0; index < path.length; index += 1) {
    const char = path[index];
    if (char !== "%") {
      decoded += char;
      continue;
    }
    const hex = path.slice(index + 1, index + 3);
    if (!/^[0-9a-fA-F]{2}$/.test(hex)) return undefined;
    decoded += String.fromCharCode(Number.parseInt(hex, 16));
    index += 2;
  }
  return decoded;
}

/** Removes the `;parameters` of every segment ("/a;x/b;y" → "/a/b"), as servlet containers do. */
export function stripSegmentParameters(path: string): string {
  return path
    .split("/")
    .map((segment) => segment.split(";")[0])
    .join("/");
}

/** Collapses runs of "/" into one. */
export function mergeSlashes(path: string): string {
  return path.replace(/\/{2,}/g, "/");
}

/** RFC 3986 §5.2.4: drops "." segments and lets ".." remove the segment before it. */
export function resolveDotSegments(path: string): string {
  const output: string[] = [];
  const segments = path.split("/").slice(1);
  for (const [index, segment] of segments.entries()) {
    const last = index === segments.length - 1;
    if (segment === ".") {
      if (last) output.push("");
    } else if (segment === "..") {
      output.pop();
      if (last) output.push("");
    } else {
      output.push(segment);
    }
  }
  return `/${output.join("/")}`;
}
