/**
 * The canonical form of a request path (src/canonical/canonical-path.ts): the table of
 * SECURITY.md's "What the upstream sees" row by row, and properties over generated paths.
 * Inputs are what the runtime hands over: `new URL(raw).pathname`.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalPath, type PathOptions, STRICT_PATHS } from "../../src/canonical/canonical-path";

/** The path as the runtime parses it from a raw request target (origin + target), then made canonical. */
function canonicalOf(raw: string, options: PathOptions = STRICT_PATHS) {
  return canonicalPath(new URL(`https://gateway.test${raw}`).pathname, options);
}

describe("normalized (RFC 3986 §6.2.2)", () => {
  it.each([
    ["/api/items", "/api/items", "/api/items"],
    ["/%61pi/%49tems", "/api/Items", "/api/Items"],
    ["/a/%7e/%7E/%2D/%5f/%2e", "/a/~/~/-/_/", "/a/~/~/-/_/"],
    ["/a%20b", "/a%20b", "/a b"],
    ["/a%3fb", "/a%3Fb", "/a?b"],
    ["/%c3%bcber", "/%C3%BCber", "/über"],
    ["/über", "/%C3%BCber", "/über"],
    ["/a/../b", "/b", "/b"],
    ["/a/%2e%2e/b", "/b", "/b"],
    ["/a/.%2E/b", "/b", "/b"],
    ["/a/./b/.", "/a/b/", "/a/b/"],
    ["/a\\..\\b", "/b", "/b"],
    ["/a/b/", "/a/b/", "/a/b/"],
    ["/A/B", "/A/B", "/A/B"],
    ["/a|b", "/a|b", "/a|b"],
    ["/a%25zz", "/a%25zz", "/a%zz"],
  ])("%s is forwarded as %s and matched as %s", (raw, path, reading) => {
    const canonical = canonicalOf(raw);
    expect(canonical).toEqual({ ok: true, path, readings: [reading] });
  });

  it("decodes what a fragment or query never reach", () => {
    expect(canonicalOf("/public/info#/../../admin")).toEqual({
      ok: true,
      path: "/public/info",
      readings: ["/public/info"],
    });
  });
});

describe("refused by default", () => {
  it.each([
    ["/a/%zz", "invalid_escape"],
    ["/a/%", "invalid_escape"],
    ["/a/%4", "invalid_escape"],
    ["/a/%2f/b", "encoded_slash"],
    ["/a/%2F", "encoded_slash"],
    ["/a/%5c/b", "encoded_backslash"],
    ["/a%00", "encoded_control"],
    ["/a%0a", "encoded_control"],
    ["/a%7F", "encoded_control"],
    ["/a%252e%252e/b", "double_encoding"],
    ["/a%252F", "double_encoding"],
    ["/%c0%af", "invalid_utf8"],
    ["/%c0%ae%c0%ae/admin", "invalid_utf8"],
    ["/%e0%80%ae", "invalid_utf8"],
    ["/%ed%a0%80", "invalid_utf8"],
    ["/%ff", "invalid_utf8"],
    ["/%c3", "invalid_utf8"],
    ["/admin;x/users", "semicolon"],
    ["/admin/users;jsessionid=1", "semicolon"],
    ["/public/..;/admin", "semicolon"],
    ["/a%3bb", "semicolon"],
    ["//admin", "empty_segment"],
    ["/admin//users", "empty_segment"],
    ["/a\\\\b", "empty_segment"],
    ["/public/%20../admin", "padded_dot_segment"],
    ["/public/..%c2%a0/admin", "padded_dot_segment"],
  ])("%s: %s", (raw, refusal) => {
    expect(canonicalOf(raw)).toEqual({ ok: false, refusal });
  });
});

describe("allowed by a setting, with the upstream family's reading added", () => {
  it("ALLOW_PATH_SEMICOLONS: forwarded with the parameters; also read without them", () => {
    const options = { ...STRICT_PATHS, semicolons: true };
    expect(canonicalOf("/admin;x/users;jsessionid=1", options)).toEqual({
      ok: true,
      path: "/admin;x/users;jsessionid=1",
      readings: ["/admin;x/users;jsessionid=1", "/admin/users"],
    });
    // `..;` is a dot segment to a servlet container: resolved here, so no upstream sees it.
    expect(canonicalOf("/public/..;/admin", options)).toEqual({ ok: true, path: "/admin", readings: ["/admin"] });
    // A segment of parameters alone is an empty segment to a servlet container.
    expect(canonicalOf("/public/;x/admin", options)).toEqual({ ok: false, refusal: "semicolon" });
    expect(canonicalOf("/a%3Bb", options)).toEqual({ ok: false, refusal: "semicolon" });
  });

  it("ALLOW_DOUBLE_SLASHES: forwarded as sent; also read with slashes merged", () => {
    const options = { ...STRICT_PATHS, doubleSlashes: true };
    expect(canonicalOf("/admin//users", options)).toEqual({
      ok: true,
      path: "/admin//users",
      readings: ["/admin//users", "/admin/users"],
    });
  });

  it("ALLOW_ENCODED_SLASHES: forwarded as %2F; also read as a separator", () => {
    const options = { ...STRICT_PATHS, encodedSlashes: true };
    expect(canonicalOf("/repos/group%2fproject", options)).toEqual({
      ok: true,
      path: "/repos/group%2Fproject",
      readings: ["/repos/group%2Fproject", "/repos/group/project"],
    });
    // A dot segment that only a decoding router would see is never forwarded.
    expect(canonicalOf("/public%2F..%2Fadmin", options)).toEqual({ ok: false, refusal: "encoded_slash" });
  });
});

// Every printable ASCII character, escapes of every byte, and the troublesome pieces.
const PIECES = [
  "%20",
  ..."abcAZ09-._~!$&'()*+,=:@|^[]{}`\"<> ",
  "/",
  "//",
  ".",
  "..",
  "/./",
  "/../",
  "\\",
  ";",
  ";x=1",
  "%",
  "%2e",
  "%2E",
  "%2f",
  "%5c",
  "%3b",
  "%25",
  "%00",
  "%c3%bc",
  "%c0%af",
  "%ff",
  "ü",
];
const rawPath = fc.array(fc.constantFrom(...PIECES), { maxLength: 12 }).map((pieces) => `/${pieces.join("")}`);
const optionsArbitrary = fc.record({
  semicolons: fc.boolean(),
  doubleSlashes: fc.boolean(),
  encodedSlashes: fc.boolean(),
});

describe("properties over generated paths", () => {
  it("the canonical path is its own canonical form, with the same readings (idempotent)", () => {
    fc.assert(
      fc.property(rawPath, optionsArbitrary, (raw, options) => {
        const first = canonicalOf(raw, options);
        if (!first.ok) return;
        expect(canonicalOf(first.path, options)).toEqual(first);
      }),
      { numRuns: 2000 },
    );
  });

  it("the URL parser leaves the canonical path as it is (what is forwarded is what was judged)", () => {
    fc.assert(
      fc.property(rawPath, optionsArbitrary, (raw, options) => {
        const canonical = canonicalOf(raw, options);
        if (!canonical.ok) return;
        expect(new URL(`http://upstream.test${canonical.path}`).pathname).toBe(canonical.path);
      }),
      { numRuns: 2000 },
    );
  });

  it("no reading has a dot segment, an unresolved escape of an unreserved character, or a ';' by default", () => {
    fc.assert(
      fc.property(rawPath, (raw) => {
        const canonical = canonicalOf(raw);
        if (!canonical.ok) return;
        expect(canonical.readings[0]?.slice(1, -1)).not.toContain("//");
        for (const reading of canonical.readings) {
          expect(reading.split("/")).not.toContain("..");
          expect(reading.split("/")).not.toContain(".");
          expect(reading).not.toContain(";");
        }
        expect(canonical.path).not.toMatch(/%(?:[46][1-9A-F]|[57][0-9A]|3[0-9]|2[DE]|5F|7E)/i);
        expect(canonical.path).not.toMatch(/%[0-9a-f]?[a-f]/);
      }),
      { numRuns: 3000 },
    );
  });

  it("never throws: every input is a canonical path or a named refusal", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), optionsArbitrary, (text, options) => {
        const canonical = canonicalPath(`/${text}`, options);
        expect(typeof canonical.ok).toBe("boolean");
      }),
      { numRuns: 2000 },
    );
  });
});

describe("white space at a segment's edge", () => {
  it("is forwarded as sent and also read trimmed, as Spring MVC's trimTokens read it", () => {
    expect(canonicalOf("/admin%20/users")).toEqual({
      ok: true,
      path: "/admin%20/users",
      readings: ["/admin /users", "/admin/users"],
    });
    expect(canonicalOf("/admin/%20/users")).toEqual({
      ok: true,
      path: "/admin/%20/users",
      readings: ["/admin/ /users", "/admin//users", "/admin/users"],
    });
  });
});
