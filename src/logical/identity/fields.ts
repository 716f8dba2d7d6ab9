/** Request fields of the identity endpoints, parsed as Vault's framework parses them. */
import { isPlainObject } from "../../sdk/fields.js";
import { formatTime } from "../../sdk/fields.js";
import type { RoutedRequest } from "../../sdk/framework.js";
import { LogicalError } from "../../sdk/types.js";

/** One request to `identity/...` (the path relative to it). */
export interface IdentityRequest extends RoutedRequest {
  data: Record<string, unknown>;
  /** Epoch milliseconds (the core's clock). */
  now: number;
  /** The calling token's entity, if it has one (identity tokens are issued for it). */
  entityId?: string;
}

/** A string field; "" when absent; 400 when not a string. */
export function stringField(data: Record<string, unknown>, field: string): string {
  const value = data[field];
  if (value === undefined || value === null) return "";
  if (typeof value !== "string") throw new LogicalError(400, `invalid ${field}: expected a string`);
  return value.trim();
}

/** Vault's `TypeKVPairs`: a map of strings, or a list of "key=value" strings; undefined when absent. */
export function metadataField(data: Record<string, unknown>, field: string): Record<string, string> | null | undefined {
  const value = data[field];
  if (value === undefined) return undefined;
  if (value === null || value === "") return null;
  // Entries, then fromEntries: a key such as "__proto__" stays an ordinary key.
  const pairs: [string, string][] = [];
  if (isPlainObject(value)) {
    for (const [key, item] of Object.entries(value)) {
      if (typeof item !== "string") throw new LogicalError(400, `failed to parse ${field}: value of "${key}" is not a string`);
      pairs.push([key, item]);
    }
  } else if (Array.isArray(value) || typeof value === "string") {
    for (const item of Array.isArray(value) ? value : value.split(",")) {
      const text = typeof item === "string" ? item : "";
      const equals = text.indexOf("=");
      if (equals <= 0) throw new LogicalError(400, `failed to parse ${field}: expected "key=value" pairs`);
      pairs.push([text.slice(0, equals).trim(), text.slice(equals + 1).trim()]);
    }
  } else {
    throw new LogicalError(400, `failed to parse ${field}: expected a map of strings`);
  }
  return pairs.length > 0 ? Object.fromEntries(pairs) : null;
}

/** Vault's `TypeCommaStringSlice`: a list of strings or one comma-separated string; undefined when absent. */
export function stringListField(data: Record<string, unknown>, field: string): string[] | undefined {
  const value = data[field];
  if (value === undefined || value === null) return undefined;
  const items = typeof value === "string" ? value.split(",") : Array.isArray(value) ? value : null;
  if (!items || items.some((item) => typeof item !== "string")) throw new LogicalError(400, `invalid ${field}: expected a list of strings`);
  return [...new Set((items as string[]).map((item) => item.trim()).filter((item) => item !== ""))];
}

/** Policy names as tokens carry them: lower-cased, as Vault stores them. */
export function policiesField(data: Record<string, unknown>): string[] | undefined {
  return stringListField(data, "policies")?.map((name) => name.toLowerCase());
}

/** Vault's RFC 3339 times in identity responses. */
export function time(epochMs: number): string {
  return formatTime(epochMs);
}

/** How lookup/entity and lookup/group find their object, and its aliases' owner. */
export interface LookupFinders<T> {
  byName(name: string): T | null;
  byId(id: string): T | null;
  aliasById(id: string): { canonical_id: string } | null;
  aliasByName(mountAccessor: string, name: string): { canonical_id: string } | null;
}

/** The object the one lookup criterion given names; null when none matches. */
export function lookUp<T>(data: Record<string, unknown>, find: LookupFinders<T>): T | null {
  const owner = (alias: { canonical_id: string } | null) => alias && find.byId(alias.canonical_id);
  switch (oneCriterion(data)) {
    case "name":
      return find.byName(stringField(data, "name"));
    case "id":
      return find.byId(stringField(data, "id"));
    case "alias_id":
      return owner(find.aliasById(stringField(data, "alias_id")));
    case "alias":
      return owner(find.aliasByName(stringField(data, "alias_mount_accessor"), stringField(data, "alias_name")));
    default:
      throw new LogicalError(400, "missing lookup criteria: name, id, alias_id, or alias_name with alias_mount_accessor");
  }
}

/** An alias write's mount accessor and name: the request's, else the existing alias's; both required. */
export function aliasTarget(data: Record<string, unknown>, existing: { mount_accessor: string; name: string } | null): { accessor: string; aliasName: string } {
  const accessor = stringField(data, "mount_accessor") || existing?.mount_accessor || "";
  if (!accessor) throw new LogicalError(400, "missing mount_accessor");
  const aliasName = stringField(data, "name") || existing?.name || "";
  if (!aliasName) throw new LogicalError(400, "missing alias name");
  return { accessor, aliasName };
}

/** Exactly one lookup criterion of those given, as lookup/entity and lookup/group insist. */
function oneCriterion(data: Record<string, unknown>): "name" | "id" | "alias_id" | "alias" | null {
  const given = (field: string) => stringField(data, field) !== "";
  const criteria = [
    given("name") && "name",
    given("id") && "id",
    given("alias_id") && "alias_id",
    (given("alias_name") || given("alias_mount_accessor")) && "alias",
  ].filter((criterion): criterion is "name" | "id" | "alias_id" | "alias" => criterion !== false);
  if (criteria.length > 1) throw new LogicalError(400, "query parameters name, id, alias_id, alias_name and alias_mount_accessor are mutually exclusive");
  if (criteria[0] === "alias" && (!given("alias_name") || !given("alias_mount_accessor"))) {
    throw new LogicalError(400, "both alias_name and alias_mount_accessor must be given");
  }
  return criteria[0] ?? null;
}
