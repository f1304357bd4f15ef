/**
 * Method overrides: a request that says it is another method than the one it was sent as.
 *
 * Express's method-override, Symfony, Laravel, Rails and others act on the method named in
 * `X-HTTP-Method-Override` (and kin) or in a `_method` query parameter, while the gateway
 * judges the method on the request line. So a request that names another method there is
 * refused (400); one that names its own method passes, with the headers dropped (they say
 * nothing). `_method` in a POST *body* cannot be seen without reading the body: a POST is
 * judged by the strictest rule of every method instead (policy/route-policy.ts,
 * UPSTREAM_METHOD_OVERRIDE).
 *
 * Query keys are compared as PHP reads them: decoded, any case, with `.`, space and `[`
 * taken as `_` (PHP turns `.method` and ` method` into `_method`).
 */

/** The method a request is overridden to, when that differs from `method`; else undefined. */
export function conflictingOverride(
  method: string,
  headerValues: readonly string[] | undefined,
  search: string,
): string | undefined {
  if (headerValues !== undefined) {
    for (const value of headerValues) {
      const named = value.trim().toUpperCase();
      if (named !== method) return named;
    }
  }
  // Cheap test first: most queries say nothing like "method".
  if (search.length < 2 || !/method|%/i.test(search)) return undefined;
  let params: URLSearchParams;
  try {
    params = new URLSearchParams(search);
  } catch {
    return undefined;
  }
  for (const [key, value] of params) {
    if (key.toLowerCase().replace(/[ .[]/g, "_") !== "_method") continue;
    const named = value.trim().toUpperCase();
    if (named !== method) return named;
  }
  return undefined;
}
