/**
 * A coarse description of where a session was begun, for the user's list of sessions:
 * the browser and OS families from the User-Agent, and the country the platform reports
 * (`request.cf.country`). Deliberately coarse: no version numbers, no IP address, so the
 * index holds nothing that identifies a person or a machine by itself.
 */

export interface ClientDescription {
  /** "Firefox on Linux", "curl", "Unknown device". */
  readonly device: string;
  /** ISO 3166 alpha-2, when the platform provides it. */
  readonly country?: string;
}

// Order matters: Edge and Opera say "Chrome" too, Chrome says "Safari".
const BROWSERS: ReadonlyArray<readonly [RegExp, string]> = [
  [/\bEdg(e|A|iOS)?\//, "Edge"],
  [/\bOPR\//, "Opera"],
  [/\bFirefox\/|\bFxiOS\//, "Firefox"],
  [/\b(Headless)?Chrome\/|\bCriOS\//, "Chrome"],
  [/\bSafari\//, "Safari"],
  [/^curl\//, "curl"],
  [/^node|undici|axios/i, "Node.js"],
];

const SYSTEMS: ReadonlyArray<readonly [RegExp, string]> = [
  [/\b(iPhone|iPad|iPod)\b/, "iOS"],
  [/\bAndroid\b/, "Android"],
  [/\bCrOS\b/, "ChromeOS"],
  [/\bWindows\b/, "Windows"],
  [/\bMac OS X\b|\bMacintosh\b/, "macOS"],
  [/\bLinux\b/, "Linux"],
];

const MAX_USER_AGENT = 512;
const COUNTRY = /^[A-Z]{2}$/;

function family(text: string, table: ReadonlyArray<readonly [RegExp, string]>): string | undefined {
  return table.find(([pattern]) => pattern.test(text))?.[1];
}

/** Describe the client of a request (login or OIDC callback). */
export function describeClient(request: Request): ClientDescription {
  const userAgent = (request.headers.get("user-agent") ?? "").slice(0, MAX_USER_AGENT);
  const browser = family(userAgent, BROWSERS);
  const system = family(userAgent, SYSTEMS);
  const device =
    browser && system ? `${browser} on ${system}` : (browser ?? (system ? `Browser on ${system}` : "Unknown device"));
  const country = (request as { cf?: { country?: unknown } }).cf?.country;
  return typeof country === "string" && COUNTRY.test(country) ? { device, country } : { device };
}
