/** The demo IdP's own pages, as a user goes through them in the browser. */
import type { Page } from "playwright-core";

/** At the IdP (`idpUrl`): its sign-in form (any name and password), then its consent form. */
export async function signInAtIdp(page: Page, idpUrl: string, login: string): Promise<void> {
  await page.waitForURL((url) => url.origin === idpUrl && url.pathname.startsWith("/interaction/"));
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill("any password at all");
  await page.getByRole("button", { name: "Sign-in" }).click();
  await page.getByRole("button", { name: "Continue" }).click();
}
