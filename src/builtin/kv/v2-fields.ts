/** Parsing and validation of KV v2 request fields (data, options.cas, versions, metadata settings). */
import { isPlainObject, parseCount, parseDuration, parseFlag } from "../../sdk/fields.js";
import { LogicalError, type Storage } from "../../sdk/types.js";
import { ExactNumber } from "../../sdk/encoding.js";
import { type EngineConfig, type KeyMetadata, loadConfig } from "./v2-metadata.js";

const MAX_CUSTOM_METADATA_KEYS = 64;
const MAX_CUSTOM_METADATA_KEY_BYTES = 128;
const MAX_CUSTOM_METADATA_VALUE_BYTES = 512;

export function requireKey(key: string): void {
  if (key === "") throw new LogicalError(400, "missing path");
  if (key.endsWith("/")) throw new LogicalError(400, `invalid path "${key}": must not end with '/'`);
}

export function requireSecretData(value: unknown): Record<string, unknown> {
  if (value === undefined || value === null) throw new LogicalError(400, "no data provided");
  if (!isPlainObject(value)) {
    throw new LogicalError(400, `"data" must be a JSON object of the secret's fields, got ${kindOf(value)}`);
  }
  return value;
}

/** `options.cas`, or undefined when the write does not ask for check-and-set. */
export function parseCheckAndSet(options: unknown): number | undefined {
  if (options === undefined || options === null) return undefined;
  if (!isPlainObject(options)) {
    throw new LogicalError(400, `"options" must be a JSON object, got ${kindOf(options)}`);
  }
  const cas = options.cas instanceof ExactNumber ? options.cas.text : options.cas;
  if (cas === undefined || cas === null) return undefined;
  // Any integer, as Go's int reads it: a negative or huge one is simply never the current version.
  if (typeof cas === "number" && Number.isInteger(cas)) return cas;
  if (typeof cas === "string" && /^\s*[-+]?\d+\s*$/.test(cas)) return Number(cas);
  throw new LogicalError(400, `error parsing check-and-set parameter: ${JSON.stringify(cas)} is not a version number`);
}

export function checkAndSet(cas: number | undefined, config: EngineConfig, meta: KeyMetadata): void {
  if (cas === undefined) {
    if (config.casRequired || meta.casRequired) {
      throw new LogicalError(400, "check-and-set parameter required for this call");
    }
  } else if (cas !== meta.currentVersion) {
    throw new LogicalError(400, "check-and-set parameter did not match the current version");
  }
}

/** `versions` as a JSON array of numbers/numeric strings, a number, or "1,2,3". */
export function parseVersionList(value: unknown): number[] {
  const items: unknown[] =
    value === undefined || value === null
      ? []
      : typeof value === "string"
        ? value.split(",").filter((part) => part.trim() !== "")
        : Array.isArray(value)
          ? value
          : [value];
  if (items.length === 0) throw new LogicalError(400, "no version number provided");
  return items.map((item) => {
    const text = typeof item === "string" ? item.trim() : item;
    const number = typeof text === "string" && /^\d+$/.test(text) ? Number(text) : text;
    if (typeof number !== "number" || !Number.isSafeInteger(number) || number < 1) {
      throw new LogicalError(400, `invalid version ${JSON.stringify(item)} in "versions": expected positive integers`);
    }
    return number;
  });
}

export type MetadataSettings = Partial<Pick<KeyMetadata, "maxVersions" | "casRequired" | "deleteVersionAfterSeconds">>;

export function parseMetadataSettings(data: Record<string, unknown>): MetadataSettings {
  const settings: MetadataSettings = {};
  const maxVersions = parseCount("max_versions", data.max_versions);
  const casRequired = parseFlag("cas_required", data.cas_required);
  const deleteAfter = parseDuration("delete_version_after", data.delete_version_after);
  if (deleteAfter !== undefined && deleteAfter < 0) {
    throw new LogicalError(400, "invalid delete_version_after: a key's delete_version_after cannot be negative");
  }
  if (maxVersions !== undefined) settings.maxVersions = maxVersions;
  if (casRequired !== undefined) settings.casRequired = casRequired;
  if (deleteAfter !== undefined) settings.deleteVersionAfterSeconds = deleteAfter;
  return settings;
}

export async function casRequiredWarnings(storage: Storage, casRequired: boolean | undefined): Promise<string[]> {
  if (casRequired !== false || !(await loadConfig(storage)).casRequired) return [];
  return ['"cas_required" is false here, but the engine config requires check-and-set on every key, so it still applies.'];
}

/**
 * `custom_metadata` as string values (numbers and booleans are converted, as Vault does);
 * `allowNull` keeps null values, which a patch uses to remove keys.
 */
export function parseCustomMetadata(value: unknown, { allowNull = false } = {}): Record<string, string | null> | undefined {
  if (value === undefined || (value === null && !allowNull)) return undefined;
  if (!isPlainObject(value)) {
    throw new LogicalError(400, `custom_metadata validation failed: expected a JSON object, got ${kindOf(value)}`);
  }
  const parsed: Record<string, string | null> = {};
  for (const [name, item] of Object.entries(value)) {
    if (item === null && allowNull) {
      parsed[name] = null;
    } else if (typeof item === "string" || typeof item === "number" || typeof item === "boolean") {
      parsed[name] = String(item);
    } else {
      throw new LogicalError(400, `custom_metadata validation failed: value of "${name}" must be a string, got ${kindOf(item)}`);
    }
  }
  return parsed;
}

const utf8 = new TextEncoder();
/** Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space. */
const unprintable = /[^\p{L}\p{M}\p{N}\p{P}\p{S} ]/u;

export function validCustomMetadata(entries: Record<string, string | null>): Record<string, string> {
  const names = Object.keys(entries);
  if (names.length > MAX_CUSTOM_METADATA_KEYS) {
    throw new LogicalError(400, `custom_metadata validation failed: at most ${MAX_CUSTOM_METADATA_KEYS} keys are allowed, got ${names.length}`);
  }
  const problems: string[] = [];
  for (const [name, value] of Object.entries(entries)) {
    const keyBytes = utf8.encode(name).length;
    const valueBytes = utf8.encode(value ?? "").length;
    if (keyBytes === 0 || keyBytes > MAX_CUSTOM_METADATA_KEY_BYTES) {
      problems.push(`key "${name}" is ${keyBytes} bytes long, must be 1 to ${MAX_CUSTOM_METADATA_KEY_BYTES}`);
    }
    if (valueBytes === 0 || valueBytes > MAX_CUSTOM_METADATA_VALUE_BYTES) {
      problems.push(`value of "${name}" is ${valueBytes} bytes long, must be 1 to ${MAX_CUSTOM_METADATA_VALUE_BYTES}`);
    }
    if (unprintable.test(name)) problems.push(`key "${name}" contains unprintable characters`);
    if (unprintable.test(value ?? "")) problems.push(`value of "${name}" contains unprintable characters`);
  }
  if (problems.length > 0) throw new LogicalError(400, `custom_metadata validation failed: ${problems.join("; ")}`);
  return entries as Record<string, string>;
}

/** RFC 7396: objects merge recursively, null removes a field, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return patch;
  // A Map (not property assignment) so a "__proto__" field stays an ordinary field.
  const merged = new Map(Object.entries(isPlainObject(target) ? target : {}));
  for (const [name, value] of Object.entries(patch)) {
    if (value === null) merged.delete(name);
    else merged.set(name, mergePatch(merged.get(name), value));
  }
  return Object.fromEntries(merged);
}

export function stripValues(value: Record<string, unknown>, maxDepth: number, depth: number): Record<string, unknown> {
  const stripped = new Map<string, unknown>();
  for (const [name, item] of Object.entries(value)) {
    const descend = isPlainObject(item) && Object.keys(item).length > 0 && (maxDepth === 0 || depth < maxDepth);
    stripped.set(name, descend ? stripValues(item, maxDepth, depth + 1) : null);
  }
  return Object.fromEntries(stripped);
}

/** What kind of JSON value `value` is ("a string", "an array"), for errors that must not echo a secret back. */
export function kindOf(value: unknown): string {
  return Array.isArray(value) ? "an array" : value === null ? "null" : `a ${typeof value}`;
}
