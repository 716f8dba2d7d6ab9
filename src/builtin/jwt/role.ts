/** JWT/OIDC roles (`auth/<mount>/role/<name>`): what a token must show, and what the issued token carries. */
import { decodeJson, encodeJson } from "../../sdk/encoding.js";
import { formatDuration, parseDuration, parseFlag } from "../../sdk/fields.js";
import { defaultTokenSettings, stringList, type TokenSettings, updateTokenSettings } from "../../sdk/token-settings.js";
import { LogicalError, type Storage } from "../../sdk/types.js";
import { parseBoundClaims, parseClaimMappings } from "./claims.js";

export interface JwtRole extends TokenSettings {
  role_type: "jwt" | "oidc";
  /** Seconds; 0 = cap's default, negative = none. */
  expiration_leeway: number;
  not_before_leeway: number;
  clock_skew_leeway: number;
  bound_audiences: string[];
  bound_subject: string;
  bound_claims_type: "string" | "glob";
  bound_claims: Record<string, unknown>;
  claim_mappings: Record<string, string>;
  user_claim: string;
  user_claim_json_pointer: boolean;
  groups_claim: string;
  oidc_scopes: string[];
  allowed_redirect_uris: string[];
  verbose_oidc_logging: boolean;
  max_age: number;
}

const ROLE_PREFIX = "role/";
const DEFAULT_LEEWAY = 150;
const DEFAULT_CLOCK_SKEW = 60;

export async function readRole(storage: Storage, name: string): Promise<JwtRole | null> {
  const bytes = await storage.get(ROLE_PREFIX + name);
  return bytes ? decodeJson<JwtRole>(bytes) : null;
}

export async function deleteRole(storage: Storage, name: string): Promise<void> {
  await storage.delete(ROLE_PREFIX + name);
}

export async function listRoles(storage: Storage): Promise<string[]> {
  return (await storage.list(ROLE_PREFIX)).filter((key) => !key.endsWith("/"));
}

export function tokenSettingsOf(role: JwtRole): TokenSettings {
  const settings = defaultTokenSettings();
  for (const key of Object.keys(settings) as (keyof TokenSettings)[]) (settings as unknown as Record<string, unknown>)[key] = role[key];
  return settings;
}

/**
 * Applies a create or update to `existing` (null: a new role) and stores it; Vault's validation
 * and texts. Returns Vault's warnings.
 */
export async function writeRole(
  storage: Storage,
  name: string,
  existing: JwtRole | null,
  data: Record<string, unknown>,
  maxLeaseTtl: number,
): Promise<string[]> {
  const warnings: string[] = [];
  const given = (field: string) => data[field] !== undefined && data[field] !== null;
  const roleType = data.role_type === undefined || data.role_type === "" ? (existing?.role_type ?? "oidc") : data.role_type;
  if (roleType !== "jwt" && roleType !== "oidc") throw new LogicalError(400, `invalid 'role_type': ${String(roleType)}`);
  const settings = updateTokenSettings(existing ? tokenSettingsOf(existing) : defaultTokenSettings(), data, true);
  if (settings.token_period > maxLeaseTtl) {
    const quoted = (seconds: number) => JSON.stringify(formatDuration(seconds));
    throw new LogicalError(400, `'period' of '${quoted(settings.token_period)}' is greater than the backend's maximum lease TTL of '${quoted(maxLeaseTtl)}'`);
  }
  const boundClaimsType = given("bound_claims_type") ? data.bound_claims_type : (existing?.bound_claims_type ?? "string");
  if (boundClaimsType !== "string" && boundClaimsType !== "glob") throw new LogicalError(400, `invalid 'bound_claims_type': ${String(boundClaimsType)}`);
  const role: JwtRole = {
    ...settings,
    role_type: roleType,
    expiration_leeway: leeway(data, "expiration_leeway") ?? existing?.expiration_leeway ?? DEFAULT_LEEWAY,
    not_before_leeway: leeway(data, "not_before_leeway") ?? existing?.not_before_leeway ?? DEFAULT_LEEWAY,
    clock_skew_leeway: leeway(data, "clock_skew_leeway") ?? existing?.clock_skew_leeway ?? DEFAULT_CLOCK_SKEW,
    bound_audiences: given("bound_audiences") ? stringList("bound_audiences", data.bound_audiences) : (existing?.bound_audiences ?? []),
    bound_subject: given("bound_subject") ? text(data, "bound_subject") : (existing?.bound_subject ?? ""),
    bound_claims_type: boundClaimsType,
    bound_claims: given("bound_claims") ? parseBoundClaims(data.bound_claims, boundClaimsType) : (existing?.bound_claims ?? {}),
    claim_mappings: given("claim_mappings") ? parseClaimMappings(data.claim_mappings) : (existing?.claim_mappings ?? {}),
    user_claim: given("user_claim") ? text(data, "user_claim") : (existing?.user_claim ?? ""),
    user_claim_json_pointer: parseFlag("user_claim_json_pointer", data.user_claim_json_pointer) ?? existing?.user_claim_json_pointer ?? false,
    groups_claim: given("groups_claim") ? text(data, "groups_claim") : (existing?.groups_claim ?? ""),
    oidc_scopes: given("oidc_scopes") ? stringList("oidc_scopes", data.oidc_scopes) : (existing?.oidc_scopes ?? []),
    allowed_redirect_uris: given("allowed_redirect_uris")
      ? stringList("allowed_redirect_uris", data.allowed_redirect_uris)
      : (existing?.allowed_redirect_uris ?? []),
    verbose_oidc_logging: parseFlag("verbose_oidc_logging", data.verbose_oidc_logging) ?? existing?.verbose_oidc_logging ?? false,
    max_age: leeway(data, "max_age") ?? existing?.max_age ?? 0,
  };
  // An existing bound_claims of the other type must still fit a changed bound_claims_type.
  if (!given("bound_claims")) parseBoundClaims(role.bound_claims, role.bound_claims_type);
  if (role.user_claim === "") throw new LogicalError(400, "a user claim must be defined on the role");
  if (role.role_type === "oidc" && role.allowed_redirect_uris.length === 0) {
    throw new LogicalError(400, "'allowed_redirect_uris' must be set if 'role_type' is 'oidc' or unspecified.");
  }
  if (
    role.role_type === "jwt" &&
    role.bound_audiences.length === 0 &&
    role.token_bound_cidrs.length === 0 &&
    role.bound_subject === "" &&
    Object.keys(role.bound_claims).length === 0
  ) {
    throw new LogicalError(400, "must have at least one bound constraint when creating/updating a role");
  }
  if (role.token_max_ttl > 0 && role.token_ttl > role.token_max_ttl) throw new LogicalError(400, "ttl should not be greater than max ttl");
  if (role.token_max_ttl > maxLeaseTtl) {
    warnings.push("token max ttl is greater than the system or backend mount's maximum TTL value; issued tokens' max TTL value will be truncated");
  }
  if (role.verbose_oidc_logging) {
    warnings.push(
      "verbose_oidc_logging has been enabled for this role. This is not recommended in production since sensitive information may be present in OIDC responses.",
    );
  }
  await storage.put(ROLE_PREFIX + name, encodeJson(role));
  return warnings;
}

/** Vault's role read: every role field, the token fields, durations in seconds. */
export function describeRole(role: JwtRole): Record<string, unknown> {
  return { ...role };
}

function leeway(data: Record<string, unknown>, field: string): number | undefined {
  return parseDuration(field, data[field]);
}

function text(data: Record<string, unknown>, field: string): string {
  const value = data[field];
  if (typeof value !== "string") throw new LogicalError(400, `"${field}" must be a string`);
  return value.trim();
}
