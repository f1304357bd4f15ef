/**
 * Names in the Worker's env that are almost a setting or binding of Portcullis:
 * `ACESS_TOKEN_TTL`, `ALLOWED_ORIGIN`, `Routes`. Such a var is ignored, so the setting it
 * meant keeps its default, silently; the gateway warns at start (`setting_name_near_miss`)
 * and `portcullis check` reports it. Names far from every known one are the app's own.
 */
import { nearestName } from "../schema/known-keys";
import { BINDINGS } from "./bindings";
import { SETTING_NAMES } from "./env";

const KNOWN: readonly string[] = [...SETTING_NAMES, ...Object.keys(BINDINGS), "UPSTREAM", "METRICS"];
const KNOWN_SET: ReadonlySet<string> = new Set(KNOWN);

/** One sentence per near miss, naming the name and the setting it is near. */
export function nearMisses(env: object): string[] {
  const found: string[] = [];
  for (const name of Object.keys(env)) {
    if (KNOWN_SET.has(name)) continue;
    const near = nearestName(name, KNOWN);
    if (near !== undefined) found.push(`${name} is not a setting or binding of Portcullis; did you mean ${near}?`);
  }
  return found;
}
