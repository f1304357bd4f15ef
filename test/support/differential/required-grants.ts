/**
 * What each handler requires under a list of route rules, worked out independently of
 * src/policy: the first rule that matches the handler's canonical path and method decides,
 * and a path no rule matches needs any valid token. The suite compares what reached a
 * handler with this, never with what the gateway decided.
 */
import { HANDLERS, type HandlerId } from "./handlers";

/** The shape of one ROUTES rule, as far as access goes. */
export interface AccessRule {
  readonly path: string;
  readonly methods?: readonly string[];
  readonly public?: boolean;
  readonly scopes?: readonly string[];
  readonly roles?: readonly string[];
}

export interface Grants {
  readonly public: boolean;
  readonly scopes: readonly string[];
  readonly roles: readonly string[];
}

/** Who is asking: no token, or a token with these scopes and roles. */
export interface Identity {
  readonly name: string;
  readonly authenticated: boolean;
  readonly scopes: readonly string[];
  readonly roles: readonly string[];
}

const ANY_TOKEN: Grants = { public: false, scopes: [], roles: [] };

function pathMatches(rulePath: string, path: string): boolean {
  if (!rulePath.endsWith("/*")) return rulePath === path;
  const base = rulePath.slice(0, -2);
  return path === base || path.startsWith(`${base}/`);
}

/** The grants the first rule matching `method` and `path` exactly requires. */
export function requiredGrants(rules: readonly AccessRule[], method: string, path: string): Grants {
  const rule = rules.find(
    (each) => (each.methods === undefined || each.methods.includes(method)) && pathMatches(each.path, path),
  );
  if (rule === undefined) return ANY_TOKEN;
  return { public: rule.public === true, scopes: rule.scopes ?? [], roles: rule.roles ?? [] };
}

/** The grants of every handler, by its canonical path and its own method. */
export function handlerGrants(rules: readonly AccessRule[]): Readonly<Record<HandlerId, Grants>> {
  const entries = HANDLERS.map((handler) => [handler.id, requiredGrants(rules, handler.method, handler.canonical)]);
  return Object.fromEntries(entries) as Record<HandlerId, Grants>;
}

/** True when `identity` holds everything `grants` asks for. */
export function holds(identity: Identity, grants: Grants): boolean {
  if (grants.public) return true;
  if (!identity.authenticated) return false;
  return (
    grants.scopes.every((scope) => identity.scopes.includes(scope)) &&
    grants.roles.every((role) => identity.roles.includes(role))
  );
}
