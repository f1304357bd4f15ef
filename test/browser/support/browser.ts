/**
 * Headless Chromium from Debian's package, driven by playwright-core. Never downloads a
 * browser: the executable is the system's, and a missing one fails with a clear message.
 */
import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/** Each launch gets a fresh temporary profile (playwright's default for `launch`). */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium); tests never download one`,
    );
  }
  return chromium.launch({ executablePath: CHROMIUM, args: FLAGS, timeout: 30_000 });
}
