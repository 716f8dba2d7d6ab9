import { type TokenRole, type TokenRoles, roleTokenOptions, rolePolicies } from "./auth/token-roles.js";
import { refuseNonAssignablePolicies } from "../sdk/token-settings.js";
import { isPlainObject, parseFlag, parseNonNegativeDuration } from "../sdk/fields.js";
import { requireCanonicalName } from "../sdk/names.js";
import type { TokenEntry, TokenStore } from "./token-store.js";
import { type HandlerResult, LogicalError, type Operation, unsupportedOperation } from "../sdk/types.js";

type Caller = TokenEntry & { hash: string };

interface TokenRequest {
  operation: Operation;
  /** Path below auth/token/, e.g. "create", "lookup-self". */
  path: string;
  data: Record<string, unknown>;
  token: string;
}

const WRITE: Operation[] = ["create", "update"];

/**
 * Vault's auth/token/* endpoints. `sudo` says whether the caller holds root or sudo on the path,
 * which unlocks what Vault reserves to it (orphans via no_parent, chosen IDs, periodic tokens,
 * policies outside the caller's own).
 */
export async function handleTokenRequest(
  tokens: TokenStore,
  roles: TokenRoles,
  request: TokenRequest,
  caller: Caller,
  sudo: boolean,
  /** The issuing auth method's check of a renewal (Vault's renew callback); throws to refuse it. */
  beforeRenew?: (entry: TokenEntry) => Promise<void>,
): Promise<HandlerResult> {
  const { path, operation, data } = request;
  const expect = (...allowed: Operation[]) => {
    if (!allowed.includes(operation)) throw unsupportedOperation(`auth/token/${path}`, operation);
  };
  if (path === "roles" || path.startsWith("roles/")) return roles.handle(operation, path, data);
  if (path === "accessors" || path === "accessors/") {
    expect("list");
    const live = await Promise.all((await tokens.withPathPrefix("")).map((entry) => tokens.lookupAccessor(entry.accessor)));
    return { data: { keys: live.flatMap((entry) => (entry ? [entry.accessor] : [])).sort() } };
  }
  if (path.startsWith("create/")) {
    expect(...WRITE);
    const name = requireCanonicalName(path.slice("create/".length), "token role name");
    const role = await roles.get(name);
    if (!role) throw new LogicalError(400, `unknown role ${name}`);
    return createToken(tokens, data, caller, sudo, false, { name, role });
  }
  switch (path) {
    case "create":
    case "create-orphan": {
      expect(...WRITE);
      return createToken(tokens, data, caller, sudo, path === "create-orphan");
    }
    case "lookup-self":
      expect("read", ...WRITE);
      return { data: tokens.describe(caller, request.token) };
    case "lookup": {
      expect("read", ...WRITE);
      const token = requireString(data, "token");
      const entry = await tokens.lookup(token);
      if (!entry) throw new LogicalError(403, "bad token");
      return { data: tokens.describe(entry, token) };
    }
    case "lookup-accessor": {
      expect(...WRITE);
      const entry = await tokens.lookupAccessor(requireString(data, "accessor"));
      if (!entry) throw new LogicalError(400, "invalid accessor");
      return { data: tokens.describe(entry) };
    }
    case "renew-self":
    case "renew": {
      expect(...WRITE);
      const token = path === "renew-self" ? request.token : requireString(data, "token");
      const entry = path === "renew-self" ? caller : await tokens.lookup(token);
      if (!entry) throw new LogicalError(400, "invalid token");
      const increment = tokenDurations({ ttl: data.increment }).ttl;
      await beforeRenew?.(entry);
      const renewed = await tokens.renew(entry, increment);
      return { auth: tokens.authBlock(renewed, token) };
    }
    case "revoke-self":
      expect(...WRITE);
      await tokens.revoke(caller);
      return null;
    case "revoke": {
      expect(...WRITE);
      const entry = await tokens.lookup(requireString(data, "token"));
      if (entry) await tokens.revoke(entry);
      return null;
    }
    case "revoke-orphan": {
      expect(...WRITE);
      const entry = await tokens.lookup(requireString(data, "token"));
      if (entry) await tokens.revokeOrphan(entry);
      return null;
    }
    case "revoke-accessor": {
      expect(...WRITE);
      const entry = await tokens.lookupAccessor(requireString(data, "accessor"));
      if (entry) await tokens.revoke(entry);
      return null;
    }
    default:
      throw new LogicalError(404, `no handler for route "auth/token/${path}". route entry not found.`);
  }
}

async function createToken(
  tokens: TokenStore,
  data: Record<string, unknown>,
  caller: Caller,
  sudo: boolean,
  orphanEndpoint: boolean,
  role?: { name: string; role: TokenRole },
): Promise<HandlerResult> {
  // Each child would be a fresh set of uses: the limit would mean nothing.
  if (caller.num_uses !== 0) throw new LogicalError(400, "restricted use token cannot generate child tokens");
  const requested = data.policies ?? undefined;
  if (requested !== undefined && (!Array.isArray(requested) || requested.some((p) => typeof p !== "string"))) {
    throw new LogicalError(400, `"policies" must be a list of policy names`);
  }
  const requireSudo = (what: string) => {
    if (!sudo) throw new LogicalError(400, `root or sudo privileges required to ${what}`);
  };
  const noDefaultPolicy = parseFlag("no_default_policy", data.no_default_policy) ?? false;
  const policies = role
    ? rolePolicies(role.role, requested as string[] | undefined, caller, sudo, noDefaultPolicy)
    : unrestrictedPolicies((requested as string[] | undefined) ?? caller.policies, caller, sudo, noDefaultPolicy);
  refuseNonAssignablePolicies(policies);
  const noParent = parseFlag("no_parent", data.no_parent) ?? false;
  // A role decides whether its tokens are orphans.
  if (noParent && !role) requireSudo("create orphan token");
  const numUses = data.num_uses === undefined || data.num_uses === null ? 0 : Number(data.num_uses);
  if (!Number.isInteger(numUses) || numUses < 0) throw new LogicalError(400, `"num_uses" must be a non-negative integer`);
  const meta = data.meta ?? null;
  if (meta !== null && (!isPlainObject(meta) || Object.values(meta).some((v) => typeof v !== "string"))) {
    throw new LogicalError(400, `"meta" must be a map of strings`);
  }
  if (data.id !== undefined && data.id !== null && typeof data.id !== "string") throw new LogicalError(400, `"id" must be a string`);
  if (typeof data.id === "string") requireSudo("specify token id");
  const durations = tokenDurations(data);
  // As Vault: asking for a period needs sudo, through a role too (a role's own period needs none).
  if (durations.period) requireSudo("create periodic token");
  const renewable = parseFlag("renewable", data.renewable) ?? true;
  const { token, entry } = await tokens.create({
    id: typeof data.id === "string" ? data.id : undefined,
    policies,
    ...durations,
    num_uses: numUses,
    renewable: renewable && (role?.role.renewable ?? true),
    display_name: typeof data.display_name === "string" && data.display_name !== "" ? `token-${data.display_name}` : undefined,
    meta: meta as Record<string, string> | null,
    parent: caller,
    orphan: orphanEndpoint || noParent,
    ...(role && roleTokenOptions(role.name, role.role, { explicit_max_ttl: durations.explicit_max_ttl, num_uses: numUses })),
  });
  return { auth: tokens.authBlock(entry, token) };
}

/** Policies of a token created without a role: a subset of the caller's unless `sudo`, plus `default`. */
function unrestrictedPolicies(requested: string[], caller: Caller, sudo: boolean, noDefaultPolicy: boolean): string[] {
  let policies = requested.filter((p) => p !== "");
  if (policies.includes("root") && !caller.policies.includes("root")) {
    throw new LogicalError(400, "root tokens may not be created without parent token being root");
  }
  if (!sudo && policies.some((p) => !caller.policies.includes(p))) {
    throw new LogicalError(400, "child policies must be subset of parent");
  }
  if (!noDefaultPolicy && !policies.includes("root") && !policies.includes("default")) policies = [...policies, "default"];
  return policies;
}

function requireString(data: Record<string, unknown>, field: string): string {
  const value = data[field];
  if (typeof value !== "string" || value === "") throw new LogicalError(400, `missing required field "${field}"`);
  return value;
}

/** Parses the optional TTL-ish fields of a token create request. */
export function tokenDurations(data: Record<string, unknown>): { ttl?: number; explicit_max_ttl?: number; period?: number } {
  const read = (field: string) => {
    const value = data[field];
    // JSON null means "not set", as in Vault's field readers.
    return value === "" ? undefined : parseNonNegativeDuration(field, value);
  };
  return { ttl: read("ttl"), explicit_max_ttl: read("explicit_max_ttl"), period: read("period") };
}
