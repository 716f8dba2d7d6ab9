/**
 * The token fields every Vault auth method role or user carries (`token_policies`, `token_ttl`, …),
 * with the legacy names Vault still accepts (`policies`, `ttl`, `max_ttl`, `period`, `bound_cidrs`).
 */
import { parseCidrList } from "./cidr.js";
import { parseCount, parseNonNegativeDuration, parseFlag } from "./fields.js";
import { LogicalError } from "./types.js";

export interface TokenSettings {
  token_policies: string[];
  /** Seconds; 0 = the mount's (or the system) default. */
  token_ttl: number;
  token_max_ttl: number;
  token_explicit_max_ttl: number;
  token_period: number;
  token_num_uses: number;
  token_bound_cidrs: string[];
  token_no_default_policy: boolean;
  token_type: string;
}

export function defaultTokenSettings(): TokenSettings {
  return {
    token_policies: [],
    token_ttl: 0,
    token_max_ttl: 0,
    token_explicit_max_ttl: 0,
    token_period: 0,
    token_num_uses: 0,
    token_bound_cidrs: [],
    token_no_default_policy: false,
    token_type: "default",
  };
}

/** The legacy name of a `token_*` field. (`bound_cidrs` is userpass's only; AppRole's `bound_cidr_list` means something else.) */
const LEGACY_NAMES: Partial<Record<keyof TokenSettings, string>> = {
  token_policies: "policies",
  token_ttl: "ttl",
  token_max_ttl: "max_ttl",
  token_period: "period",
};

/** Applies the token fields present in `data` to `current`; 400 on invalid values. */
export function updateTokenSettings(current: TokenSettings, data: Record<string, unknown>, legacyBoundCidrs = false): TokenSettings {
  const next = { ...current };
  const value = (name: keyof TokenSettings): unknown => {
    if (data[name] !== undefined) return data[name];
    const legacy = LEGACY_NAMES[name];
    if (legacy && data[legacy] !== undefined) return data[legacy];
    if (name === "token_bound_cidrs" && legacyBoundCidrs) return data.bound_cidrs;
    return undefined;
  };
  const policies = value("token_policies");
  if (policies !== undefined) next.token_policies = policyList(stringList("token_policies", policies));
  for (const field of ["token_ttl", "token_max_ttl", "token_explicit_max_ttl", "token_period"] as const) {
    const seconds = parseNonNegativeDuration(field, value(field));
    if (seconds !== undefined) next[field] = seconds;
  }
  next.token_num_uses = parseCount("token_num_uses", value("token_num_uses")) ?? next.token_num_uses;
  next.token_no_default_policy = parseFlag("token_no_default_policy", value("token_no_default_policy")) ?? next.token_no_default_policy;
  const cidrs = value("token_bound_cidrs");
  if (cidrs !== undefined) next.token_bound_cidrs = cidrList("token_bound_cidrs", cidrs);
  const type = value("token_type");
  // "" is Vault's unset (hvac sends it by default): the type stays as it was.
  if (type !== undefined && type !== "") {
    if (type !== "default" && type !== "service" && type !== "default-service") {
      throw new LogicalError(400, `"token_type" ${JSON.stringify(type)} is not supported: Strongbox issues service tokens only`);
    }
    next.token_type = type;
  }
  if (next.token_max_ttl > 0 && next.token_ttl > next.token_max_ttl) throw new LogicalError(400, `"token_ttl" should not be greater than "token_max_ttl"`);
  return next;
}

/** A list given as a JSON array or as comma-separated text, trimmed, empties dropped. */
export function stringList(field: string, value: unknown): string[] {
  if (value === undefined || value === null) return [];
  const items = typeof value === "string" ? value.split(",") : value;
  if (!Array.isArray(items) || items.some((item) => typeof item !== "string")) {
    throw new LogicalError(400, `"${field}" must be a list of strings or comma-separated text`);
  }
  return (items as string[]).map((item) => item.trim()).filter((item) => item !== "");
}

/** CIDR blocks (or bare addresses) from a list field; 400 naming the invalid entry. */
export function cidrList(field: string, value: unknown): string[] {
  const items = stringList(field, value);
  try {
    return parseCidrList(items, field).map((block) => block.text);
  } catch (error) {
    throw new LogicalError(400, (error as Error).message);
  }
}

/** Policy names as Vault keeps them: lower-cased, de-duplicated, sorted. */
export function policyList(names: string[]): string[] {
  return [...new Set(names.map((name) => name.trim().toLowerCase()).filter((name) => name !== ""))].sort();
}

/** Policies only Strongbox's own machinery gives a token (response wrapping's): no request may assign them, as in Vault. */
const NON_ASSIGNABLE_POLICIES = ["response-wrapping"];

/** Vault's 400 when a token would carry a policy no request may assign (checked on the final list, defaults included). */
export function refuseNonAssignablePolicies(policies: string[]): void {
  const named = policies.map((policy) => policy.trim().toLowerCase()).find((policy) => NON_ASSIGNABLE_POLICIES.includes(policy));
  if (named !== undefined) throw new LogicalError(400, `cannot assign policy ${JSON.stringify(named)}`);
}
