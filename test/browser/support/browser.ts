/**
 * Headless Chromium driven by playwright-core. Never downloads a browser: it takes
 * `CHROMIUM_PATH` if set, else the system's `/usr/bin/chromium` (Debian's package), else
 * the Chromium shipped inside the `@sparticuz/chromium` npm package (unpacked to /tmp on
 * first use), so `npm install && npm test` needs nothing but Node and npm.
 */
import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

const SYSTEM_CHROMIUM = "/usr/bin/chromium";

// Our own flags, not @sparticuz/chromium's Lambda set: that one turns off web security
// (CORS, site isolation), which these tests exist to exercise.
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/** Where the Chromium these tests drive lives, and where it came from. */
export async function findChromium(): Promise<{ path: string; source: string }> {
  const configured = process.env.CHROMIUM_PATH;
  if (configured !== undefined && configured !== "") {
    if (!existsSync(configured)) throw new Error(`CHROMIUM_PATH=${configured} does not exist`);
    return { path: configured, source: "CHROMIUM_PATH" };
  }
  if (existsSync(SYSTEM_CHROMIUM)) return { path: SYSTEM_CHROMIUM, source: "system" };
  const shipped = (await import("@sparticuz/chromium")).default;
  return { path: await shipped.executablePath(), source: "@sparticuz/chromium" };
}

/** Options for {@link launchChromium}. */
export interface LaunchChromiumOptions {
  /**
   * More command-line flags after ours (default none), e.g.
   * `--host-resolver-rules=MAP *.test 127.0.0.1` to give test host names real-looking origins.
   */
  readonly extraFlags?: readonly string[];
}

/** Each launch gets a fresh temporary profile (playwright's default for `launch`). */
export async function launchChromium(options: LaunchChromiumOptions = {}): Promise<Browser> {
  const { path } = await findChromium();
  return chromium.launch({ executablePath: path, args: [...FLAGS, ...(options.extraFlags ?? [])], timeout: 30_000 });
}
