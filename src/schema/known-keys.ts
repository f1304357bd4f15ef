/**
 * Strict settings: a structured setting's object may hold only the keys its description
 * names, compared case-sensitively, and a mistaken name is refused with the nearest known
 * one ("did you mean "scopes"?"). Each structured setting describes its keys once, in one
 * table (a key and what it means); the check, the messages and the documentation tables
 * (test/unit/settings-tables.test.ts compares them) all read that table.
 */

/** A structured setting's keys, each with what it means. */
export type KeyTable = Readonly<Record<string, string>>;

/** The optimal-string-alignment distance: edits, with two neighbours swapped counting as one. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const columns = b.length + 1;
  const distance: number[][] = Array.from({ length: rows }, (_, row) =>
    Array.from({ length: columns }, (_, column) => (row === 0 ? column : column === 0 ? row : 0)),
  );
  for (let row = 1; row < rows; row++) {
    for (let column = 1; column < columns; column++) {
      const cost = a[row - 1] === b[column - 1] ? 0 : 1;
      const cell = Math.min(
        (distance[row - 1]?.[column] ?? 0) + 1,
        (distance[row]?.[column - 1] ?? 0) + 1,
        (distance[row - 1]?.[column - 1] ?? 0) + cost,
      );
      const swapped =
        row > 1 && column > 1 && a[row - 1] === b[column - 2] && a[row - 2] === b[column - 1]
          ? (distance[row - 2]?.[column - 2] ?? 0) + 1
          : Number.POSITIVE_INFINITY;
      (distance[row] as number[])[column] = Math.min(cell, swapped);
    }
  }
  return distance[a.length]?.[b.length] ?? Number.POSITIVE_INFINITY;
}

/**
 * The known name `name` is most likely a mistake for: the same but for letter case, or at
 * most `maxEdits` edits away (and fewer than half its length, so short names do not match
 * everything). Undefined when none is that close.
 */
export function nearestName(name: string, known: Iterable<string>, maxEdits = 2): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const candidate of known) {
    if (candidate === name) return undefined;
    const distance = candidate.toLowerCase() === name.toLowerCase() ? 0 : editDistance(name, candidate);
    if (distance > maxEdits || distance * 2 >= Math.max(name.length, 2)) continue;
    if (best === undefined || distance < best.distance) best = { name: candidate, distance };
  }
  return best?.name;
}

/**
 * The first key of `value` its table does not name, as the sentence that refuses it:
 * `has "scope"; did you mean "scopes"?`, or the list of known keys. Undefined when every
 * key is known.
 */
export function unknownKey(value: object, table: KeyTable): string | undefined {
  const known = Object.keys(table);
  for (const key of Object.keys(value)) {
    if (Object.hasOwn(table, key)) continue;
    const near = nearestName(key, known);
    return near === undefined
      ? `has "${key}", which is not one of ${known.map((name) => `"${name}"`).join(", ")}`
      : `has "${key}"; did you mean "${near}"?`;
  }
  return undefined;
}
