/**
 * Raw request-target spellings of the protected handlers' paths, each aimed at reaching a
 * handler under a public or weaker rule: letter case, trailing and doubled slashes, `%XX`
 * of unreserved characters, `;params`, backslashes, encoded dots, slashes, controls and
 * white space,
 * overlong and invalid UTF-8, fragments, traversals out of the public paths, and mixtures.
 * Every spelling is meant to be sent raw (see raw-request.ts).
 */

/** The protected handlers' canonical paths that the spellings aim at. */
export const TARGETS = ["/admin/users", "/admin", "/reports", "/orders/1", "/api/items"] as const;
export type Target = (typeof TARGETS)[number];

export interface Spelling {
  /** The request-target, byte for byte. */
  readonly raw: string;
  /** The canonical path it means to reach. */
  readonly target: Target;
  /** Which kind of trick it is, for readable failures. */
  readonly family: string;
}

type Forms = Iterable<readonly [family: string, raw: string]>;

const segmentsOf = (path: string): string[] => path.slice(1).split("/");
const join = (segments: readonly string[]): string => `/${segments.join("/")}`;
const hex = (char: string): string => `%${char.charCodeAt(0).toString(16).padStart(2, "0")}`;
const flip = (char: string): string => (char === char.toUpperCase() ? char.toLowerCase() : char.toUpperCase());
const capitalise = (segment: string): string => segment.charAt(0).toUpperCase() + segment.slice(1);

function* caseForms(path: string): Forms {
  yield ["case", path.toUpperCase()];
  yield ["case", join(segmentsOf(path).map(capitalise))];
  for (let index = 1; index < path.length; index += 1) {
    const char = path.charAt(index);
    if (/[a-z]/i.test(char)) yield ["case", path.slice(0, index) + flip(char) + path.slice(index + 1)];
  }
}

function* percentForms(path: string): Forms {
  for (let index = 1; index < path.length; index += 1) {
    const char = path.charAt(index);
    if (!/[A-Za-z0-9\-._~]/.test(char)) continue;
    for (const encoded of [hex(char), hex(char).toUpperCase()]) {
      yield ["percent", path.slice(0, index) + encoded + path.slice(index + 1)];
    }
  }
  const [first = "", ...rest] = segmentsOf(path);
  yield ["percent", join([[...first].map(hex).join(""), ...rest])];
  yield ["percent", [...path].map((char) => (char === "/" ? char : hex(char).toUpperCase())).join("")];
}

function* slashForms(path: string): Forms {
  const segments = segmentsOf(path);
  yield ["trailing-slash", `${path}/`];
  yield ["trailing-slash", `${path}//`];
  yield ["double-slash", `/${path}`];
  yield ["double-slash", `//${path}`];
  for (let index = 1; index < segments.length; index += 1) {
    yield ["double-slash", `/${segments.slice(0, index).join("/")}//${segments.slice(index).join("/")}`];
  }
  yield ["backslash", `/${segments.join("\\")}`];
  yield ["backslash", `/\\${segments.join("/")}`];
  yield ["backslash", `${path}\\`];
}

function* semicolonForms(path: string): Forms {
  const segments = segmentsOf(path);
  for (let index = 0; index < segments.length; index += 1) {
    yield ["semicolon", join(segments.map((segment, at) => (at === index ? `${segment};x` : segment)))];
  }
  yield ["semicolon", `${path};jsessionid=1`];
  yield ["semicolon", `${path};`];
  yield ["semicolon", `${path}/;`];
  yield ["semicolon", `/;${path}`];
  yield ["semicolon", `${path}%3b`];
}

function* dotForms(path: string): Forms {
  const segments = segmentsOf(path);
  yield ["dot-segment", `/.${path}`];
  yield ["dot-segment", `${path}/.`];
  yield ["dot-segment", `/x/..${path}`];
  yield ["dot-segment", `/%2e${path}`];
  yield ["dot-segment", `${path}/%2e`];
  yield ["dot-segment", `/x/%2e%2e${path}`];
  yield ["dot-segment", `/x/%252e%252e${path}`];
  if (segments.length > 1) {
    const [first, ...rest] = segments;
    yield ["dot-segment", `/${first}/./${rest.join("/")}`];
    yield ["dot-segment", `/${first}/x/../${rest.join("/")}`];
    yield ["dot-segment", `/${first}/x/%2E%2E/${rest.join("/")}`];
  }
}

function* encodedSeparatorForms(path: string): Forms {
  const segments = segmentsOf(path);
  for (const separator of ["%2f", "%5c", "%2F", "%5C", "%c0%af", "%252f", "%e0%80%af"]) {
    if (segments.length > 1) yield ["encoded-separator", `/${segments.join(separator)}`];
    yield ["encoded-separator", `${path}${separator}`];
    yield ["encoded-separator", `/${separator}${path.slice(1)}`];
  }
}

function* controlForms(path: string): Forms {
  const [first = "", ...rest] = segmentsOf(path);
  for (const control of ["%00", "%01", "%09", "%0a", "%0A", "%0d", "%0d%0a", "%1f", "%7f", "%7F", "%20", "%2500"]) {
    yield ["control", `${path}${control}`];
  }
  yield ["control", join([`${first}%00`, ...rest])];
  yield ["control", `${path}%00.json`];
  yield ["control", `${path}%09/`];
}

/** White space at a segment's edge: Spring MVC's AntPathMatcher trimmed it (trimTokens, CVE-2016-5007). */
function* whitespaceForms(path: string): Forms {
  const segments = segmentsOf(path);
  for (const space of ["%20", "%20%20", "%c2%a0", "%e2%80%83"]) {
    yield ["whitespace", `${path}${space}`];
    yield ["whitespace", join(segments.map((segment, index) => (index === 0 ? `${segment}${space}` : segment)))];
    yield [
      "whitespace",
      join(segments.map((segment, index) => (index === segments.length - 1 ? `${space}${segment}` : segment))),
    ];
  }
}

function* utf8Forms(path: string): Forms {
  for (const bytes of ["%ff", "%c0%ae", "%e0%80%ae", "%c0", "%ed%a0%80", "%FF", "%e0%80", "%f8%80%80%80%af"]) {
    yield ["bad-utf8", `${path}${bytes}`];
  }
  yield ["bad-utf8", `/%ff/..${path}`];
  yield ["bad-utf8", `${path}/%c0%ae`];
  yield ["bad-utf8", `${path}/%c0%ae%c0%ae`];
  yield ["bad-escape", `${path}%`];
  yield ["bad-escape", `${path}%2`];
  yield ["bad-escape", `${path}%zz`];
}

function* fragmentAndQueryForms(path: string): Forms {
  yield ["fragment", `${path}#x`];
  yield ["fragment", `${path}#/../../public/info`];
  yield ["fragment", `/public/info#/../..${path}`];
  yield ["fragment", `/public/info#${path}`];
  yield ["query", `/public/info?/../..${path}`];
  yield ["query", `${path}?/public/info`];
  yield ["query", `${path}?`];
}

/** Spellings of "..", and what they climb out of: the public paths. */
const DOT_DOTS = (
  ".. %2e%2e %2E%2E %2e. %2E. .%2e .%2E %252e%252e %252E%252E %c0%ae%c0%ae %e0%80%ae%e0%80%ae " +
  "..; ..;x ..%3b ..%00 ..%2f"
).split(" ");
const SEPARATORS = ["\\", "%2f", "%2F", "%5c", "%5C", "%c0%af", "%252f", "//"];
const PUBLIC_BASES = [
  { base: "/public", depth: 1 },
  { base: "/public/info", depth: 2 },
  { base: "/health", depth: 1 },
];

/** Prefixes that climb out of a public path, in the order the best-known tricks come. */
const CLASSIC_ESCAPES = [
  "/public/..;/",
  "/public;x/../",
  "/public//../",
  "/public\\..\\",
  "/public/%2e%2e/",
  "/public%2f..%2f",
  "/public/..%2f",
  "/public/%252e%252e/",
  "/public/%c0%ae%c0%ae/",
  "/public%5c..%5c",
  "/health/..;/",
  "/public/info/..;/..;/",
  "/public/info;x/../../",
  "/public/%00/../",
  "/public/info%00/../../",
  "/public/.;/../",
  "/public/..%252f",
  "/PUBLIC/../",
  "/public/info//../../",
  "/public/x/../../",
];

function* escapeForms(path: string): Forms {
  const rest = path.slice(1);
  // The best-known first: the tricks each of the emulated readers falls for.
  for (const prefix of CLASSIC_ESCAPES) yield ["traversal", `${prefix}${rest}`];
  // Then every way out of every public path.
  for (const { base, depth } of PUBLIC_BASES) {
    for (const dotDot of DOT_DOTS) yield ["traversal", `${base}${`/${dotDot}`.repeat(depth)}/${rest}`];
    if (depth === 1) {
      for (const separator of SEPARATORS) {
        for (const dotDot of ["..", "%2e%2e", "..;"]) {
          yield ["traversal", `${base}${separator}${dotDot}${separator}${rest}`];
        }
      }
    }
  }
}

/** Case, trailing slash, encoding and `;` on top of one another and on top of traversals. */
function* mixtures(path: string): Forms {
  const upper = path.toUpperCase();
  const capitalised = join(segmentsOf(path).map(capitalise));
  const firstEncoded = `/${hex(path.charAt(1)).toUpperCase()}${path.slice(2)}`;
  for (const spelled of [upper, capitalised, firstEncoded]) {
    yield ["mixture", `${spelled}/`];
    yield ["mixture", `${spelled};x`];
    yield ["mixture", `/${spelled}`];
    yield ["mixture", `/public/..;${spelled}`];
    yield ["mixture", `/public/%2e%2e${spelled}/`];
    yield ["mixture", `/public\\..\\${spelled.slice(1)}`];
  }
  yield ["mixture", `${firstEncoded.toLowerCase()}%2f`];
  yield ["mixture", `/public/..;/${segmentsOf(capitalised).join(";x/")}/`];
  yield ["mixture", `//public//..//${upper.slice(1)}//`];
  yield ["mixture", `/public/%252e%252e/${firstEncoded.slice(1)};jsessionid=1`];
}

/** Families whose size the path's length bounds: every target gets all of them. */
const WHOLE_FAMILIES = [caseForms, percentForms];
const LIMITED_FAMILIES = [
  slashForms,
  semicolonForms,
  dotForms,
  encodedSeparatorForms,
  controlForms,
  whitespaceForms,
  utf8Forms,
  fragmentAndQueryForms,
  escapeForms,
  mixtures,
];

/**
 * How many spellings each limited family gives each target, at most: /admin/users gets
 * them all, the others fewer, to keep the suite's run short. Each spelling of /reports is
 * sent twice (GET, HEAD) and each of /orders/1 five times (GET and four method overrides).
 */
const FAMILY_LIMITS: Record<Target, number> = {
  "/admin/users": Number.POSITIVE_INFINITY,
  "/admin": 12,
  "/reports": 7,
  "/orders/1": 6,
  "/api/items": 6,
};

/** Every spelling of every target, deduplicated (a spelling is kept under its first family). */
export function pathSpellings(): readonly Spelling[] {
  const spellings = new Map<string, Spelling>();
  for (const target of TARGETS) {
    for (const family of [...WHOLE_FAMILIES, ...LIMITED_FAMILIES]) {
      const limit = WHOLE_FAMILIES.includes(family) ? Number.POSITIVE_INFINITY : FAMILY_LIMITS[target];
      let added = 0;
      for (const [name, raw] of family(target)) {
        if (added >= limit) break;
        if (raw === target || spellings.has(raw)) continue;
        spellings.set(raw, { raw, target, family: name });
        added += 1;
      }
    }
  }
  return [...spellings.values()];
}
