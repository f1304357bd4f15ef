/**
 * The login transaction (verifier, state, nonce, return_to) between the login redirect
 * and the callback: sealed (AES-GCM, bound to its cookie name) in a `__Host-` cookie that
 * lives at most 10 minutes. One cookie per login in progress, named after its `state`, so
 * several tabs can log in at once; at most MAX_PENDING_LOGINS of them, the oldest cleared
 * first, so a flood of logins cannot grow the Cookie header into a 431.
 */
import type { OidcConfig } from "../config/config";
import { LOGIN_TRANSACTION_COOKIE_PREFIX, loginTransactionCookie, loginTransactionCookies } from "../http/cookies";
import type { LoginTransaction } from "../oidc/authorization-request";
import { seal, unsealWithAny } from "../oidc/sealing";

export const TRANSACTION_TTL_SECONDS = 600;
export const MAX_PENDING_LOGINS = 5;
const STATE_PREFIX_LENGTH = 16;

function cookieName(state: string): string | undefined {
  return /^[A-Za-z0-9_-]{16,}$/.test(state)
    ? `${LOGIN_TRANSACTION_COOKIE_PREFIX}${state.slice(0, STATE_PREFIX_LENGTH)}`
    : undefined;
}

/** Set-Cookie values that store `transaction`, and clear the oldest pending ones beyond the bound. */
export async function storeTransaction(
  config: OidcConfig,
  cookieHeader: string | null,
  transaction: LoginTransaction,
): Promise<string[]> {
  const name = cookieName(transaction.state) as string;
  const sealed = await seal(config.sealingSecrets.current, "login-transaction", name, transaction);
  // Browsers send older cookies first (RFC 6265 §5.4): keep the newest MAX - 1.
  const pending = loginTransactionCookies(cookieHeader).filter((cookie) => cookie.name !== name);
  const excess = pending.slice(0, Math.max(0, pending.length - (MAX_PENDING_LOGINS - 1)));
  return [
    ...excess.map((cookie) => loginTransactionCookie(cookie.name, "", 0)),
    loginTransactionCookie(name, sealed, TRANSACTION_TTL_SECONDS),
  ];
}

export interface OpenedTransaction {
  readonly transaction: LoginTransaction;
  /** Clears this transaction's cookie. */
  readonly clearCookie: string;
}

/** The transaction the callback's `state` names, when its cookie is there, intact and not expired. */
export async function openTransaction(
  config: OidcConfig,
  cookieHeader: string | null,
  state: string | null,
  now: number,
): Promise<OpenedTransaction | undefined> {
  const name = state === null ? undefined : cookieName(state);
  if (name === undefined) return undefined;
  const cookie = loginTransactionCookies(cookieHeader).find((candidate) => candidate.name === name);
  if (cookie === undefined) return undefined;
  const transaction = (await unsealWithAny(config.sealingSecrets, "login-transaction", name, cookie.value)) as
    | LoginTransaction
    | undefined;
  if (transaction === undefined || transaction.state !== state) return undefined;
  const age = now - transaction.createdAt;
  if (!(age >= 0 && age <= TRANSACTION_TTL_SECONDS * 1000)) return undefined;
  return { transaction, clearCookie: loginTransactionCookie(name, "", 0) };
}
