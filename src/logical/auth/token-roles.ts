/**
 * Token roles (`auth/token/roles/<name>`) and what they impose on `auth/token/create/<name>`, as
 * Vault's token store does: which policies a token may carry, whether it is an orphan, periodic or
 * renewable, its explicit max TTL, use limit, address binding and path suffix.
 */
import { decodeJson, encodeJson } from "../../sdk/encoding.js";
import { parseCount, parseFlag, parseNonNegativeDuration } from "../../sdk/fields.js";
import { notFound } from "../../sdk/responses.js";
import { requireCanonicalName } from "../../sdk/names.js";
import type { CreateTokenOptions, TokenEntry } from "../token-store.js";
import { type HandlerResult, LogicalError, type Operation, type Storage, unsupportedOperation } from "../../sdk/types.js";
import { cidrList, policyList, stringList } from "../../sdk/token-settings.js";
import { globMatch } from "../../sdk/glob.js";

export interface TokenRole {
  allowed_policies: string[];
  disallowed_policies: string[];
  allowed_policies_glob: string[];
  disallowed_policies_glob: string[];
  orphan: boolean;
  renewable: boolean;
  path_suffix: string;
  token_period: number;
  token_explicit_max_ttl: number;
  token_num_uses: number;
  token_bound_cidrs: string[];
  token_no_default_policy: boolean;
  token_type: string;
}

const ROLE_NAME = "token role name";

function defaultRole(): TokenRole {
  return {
    allowed_policies: [],
    disallowed_policies: [],
    allowed_policies_glob: [],
    disallowed_policies_glob: [],
    orphan: false,
    renewable: true,
    path_suffix: "",
    token_period: 0,
    token_explicit_max_ttl: 0,
    token_num_uses: 0,
    token_bound_cidrs: [],
    token_no_default_policy: false,
    token_type: "default-service",
  };
}

/** The token roles, stored in their own slice of the token store's storage. */
export class TokenRoles {
  constructor(private readonly storage: Storage) {}

  async get(name: string): Promise<TokenRole | null> {
    const bytes = await this.storage.get(name);
    return bytes ? { ...defaultRole(), ...decodeJson<Partial<TokenRole>>(bytes) } : null;
  }

  /** `roles` (list) and `roles/<name>` (read, write, delete), below auth/token/. */
  async handle(operation: Operation, path: string, data: Record<string, unknown>): Promise<HandlerResult> {
    if (path === "roles" || path === "roles/") {
      if (operation !== "list") throw unsupportedOperation(`auth/token/${path}`, operation);
      return { data: { keys: (await this.storage.list("")).filter((key) => !key.endsWith("/")) } };
    }
    const name = requireCanonicalName(path.slice("roles/".length), ROLE_NAME);
    switch (operation) {
      case "read": {
        const role = await this.get(name);
        if (!role) throw notFound();
        return { data: describeRole(name, role) };
      }
      case "create":
      case "update": {
        const role = updateRole((await this.get(name)) ?? defaultRole(), data);
        await this.storage.put(name, encodeJson(role));
        return null;
      }
      case "delete":
        await this.storage.delete(name);
        return null;
      default:
        throw unsupportedOperation(`auth/token/${path}`, operation);
    }
  }
}

/** A role's fields from a write; the legacy names (`period`, `explicit_max_ttl`, `bound_cidrs`) are still accepted. */
function updateRole(current: TokenRole, data: Record<string, unknown>): TokenRole {
  const next = { ...current };
  const field = (name: string, legacy?: string): unknown => data[name] ?? (legacy ? data[legacy] : undefined) ?? undefined;
  for (const name of ["allowed_policies", "disallowed_policies"] as const) {
    if (field(name) !== undefined) next[name] = policyList(stringList(name, field(name)));
  }
  for (const name of ["allowed_policies_glob", "disallowed_policies_glob"] as const) {
    if (field(name) !== undefined) next[name] = policyList(stringList(name, field(name)));
  }
  next.orphan = parseFlag("orphan", field("orphan")) ?? next.orphan;
  next.renewable = parseFlag("renewable", field("renewable")) ?? next.renewable;
  next.token_no_default_policy = parseFlag("token_no_default_policy", field("token_no_default_policy")) ?? next.token_no_default_policy;
  next.token_period = parseNonNegativeDuration("token_period", field("token_period", "period")) ?? next.token_period;
  next.token_explicit_max_ttl =
    parseNonNegativeDuration("token_explicit_max_ttl", field("token_explicit_max_ttl", "explicit_max_ttl")) ?? next.token_explicit_max_ttl;
  next.token_num_uses = parseCount("token_num_uses", field("token_num_uses")) ?? next.token_num_uses;
  if (field("token_bound_cidrs", "bound_cidrs") !== undefined)
    next.token_bound_cidrs = cidrList("token_bound_cidrs", field("token_bound_cidrs", "bound_cidrs"));
  const suffix = field("path_suffix");
  if (suffix !== undefined) {
    if (typeof suffix !== "string" || suffix.includes("..") || /[\s\p{Cc}]/u.test(suffix)) {
      throw new LogicalError(400, `"path_suffix" must be text without whitespace, control characters or ".."`);
    }
    next.path_suffix = suffix.replace(/^\/+|\/+$/g, "");
  }
  const type = field("token_type");
  if (type !== undefined) {
    if (type !== "default" && type !== "service" && type !== "default-service") {
      throw new LogicalError(400, `"token_type" ${JSON.stringify(type)} is not supported: Strongbox issues service tokens only`);
    }
    next.token_type = type;
  }
  return next;
}

function describeRole(name: string, role: TokenRole): Record<string, unknown> {
  return {
    name,
    allowed_entity_aliases: [],
    ...role,
    // The legacy names, which older clients read.
    period: role.token_period,
    explicit_max_ttl: role.token_explicit_max_ttl,
    bound_cidrs: role.token_bound_cidrs,
  };
}

/**
 * The policies a token created under `role` gets: those requested (by default the role's allowed
 * policies, or when it allows none, the caller's); each must be allowed by the role (or, when it
 * allows none, held by the caller unless `sudo`) and none disallowed; `default` added unless the
 * request or the role says not to or the role disallows it.
 */
export function rolePolicies(role: TokenRole, requested: string[] | undefined, caller: TokenEntry, sudo: boolean, noDefaultPolicy: boolean): string[] {
  const restrictsPolicies = role.allowed_policies.length > 0 || role.allowed_policies_glob.length > 0;
  const allowed = (policy: string) => role.allowed_policies.includes(policy) || role.allowed_policies_glob.some((glob) => globMatch(glob, policy));
  const disallowed = (policy: string) => role.disallowed_policies.includes(policy) || role.disallowed_policies_glob.some((glob) => globMatch(glob, policy));
  let policies = policyList(requested ?? (restrictsPolicies ? role.allowed_policies : caller.policies));
  if (policies.includes("root") && !caller.policies.includes("root"))
    throw new LogicalError(400, "root tokens may not be created without parent token being root");
  if (restrictsPolicies) {
    const outside = policies.filter((policy) => policy !== "default" && !allowed(policy));
    if (outside.length > 0) throw new LogicalError(400, `token policies (${JSON.stringify(outside)}) must be subset of the role's allowed policies`);
  } else if (!sudo && policies.some((policy) => policy !== "default" && !caller.policies.includes(policy))) {
    throw new LogicalError(400, "child policies must be subset of parent");
  }
  const forbidden = policies.filter(disallowed);
  if (forbidden.length > 0) throw new LogicalError(400, `token policies (${JSON.stringify(forbidden)}) are disallowed by the role`);
  if (!noDefaultPolicy && !role.token_no_default_policy && !disallowed("default") && !policies.includes("root"))
    policies = [...new Set([...policies, "default"])];
  return policies;
}

/** What a role fixes about a token created under it (the request's own values are combined with these by the caller). */
export function roleTokenOptions(roleName: string, role: TokenRole, requested: { explicit_max_ttl?: number; num_uses: number }): Partial<CreateTokenOptions> {
  const limits = [role.token_explicit_max_ttl, requested.explicit_max_ttl ?? 0].filter((seconds) => seconds > 0);
  const uses = [role.token_num_uses, requested.num_uses].filter((count) => count > 0);
  return {
    orphan: role.orphan,
    ...(role.token_period ? { period: role.token_period } : {}),
    explicit_max_ttl: limits.length > 0 ? Math.min(...limits) : 0,
    num_uses: uses.length > 0 ? Math.min(...uses) : 0,
    ...(role.token_bound_cidrs.length > 0 ? { bound_cidrs: role.token_bound_cidrs } : {}),
    path: `auth/token/create/${roleName}${role.path_suffix ? `/${role.path_suffix}` : ""}`,
  };
}
