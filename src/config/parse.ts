import { ConfigError, type ListenerConfig, type LogLevel, type ServerConfig, type StorageConfig, type TelemetryConfig } from "./types.js";
import { resolveApiAddr, resolveClusterAddr } from "./addresses.js";
import { requireDurationMs } from "./duration.js";
import { requireLeaseTtlSeconds, resolveLeaseTtls } from "./lease-ttls.js";
import { parseListener } from "./listener.js";
import { parseTelemetry } from "./telemetry.js";
import { parseSeals, type SealBlock } from "./seal.js";
import { type Block, describe, type Env, envValue, type FromFile, isObject, quote, requireBool, requireString } from "./values.js";

/** One configuration file, already turned into a JSON-shaped value (by JSON.parse or an HCL converter). */
export interface ConfigSource {
  file: string;
  body: unknown;
}

/** The storage backends this build knows, and whether each can hold the HA lock. */
export type StorageTypes = Record<string, { ha: boolean }>;

/**
 * How long a standby holds a request while no active node is known, by default: a leadership
 * change takes well under 2 s, and 5 s stays below the timeouts clients commonly use (Vault's
 * CLI and SDKs wait 60 s, most HTTP clients 30 s or more), so the hold never outlasts the client.
 */
export const DEFAULT_STANDBY_HOLD_MS = 5_000;

const LOG_LEVELS: Record<string, LogLevel> = {
  trace: "trace",
  debug: "debug",
  info: "info",
  warn: "warn",
  warning: "warn",
  error: "error",
  err: "error",
};

// Vault settings that are valid in a Vault config but mean nothing here: they get a softer warning than
// typos, so people can reuse their Vault config as is.
const VAULT_KEYS_NOT_USED = new Set([
  "administrative_namespace_path",
  "cluster_cipher_suites",
  "cluster_name",
  "default_max_request_duration",
  "detect_deadlocks",
  "disable_mlock",
  "disable_printable_check",
  "disable_sealwrap",
  "disable_sentinel_trace",
  "enable_response_header_hostname",
  "enable_response_header_raft_node_id",
  "entropy",
  "experiments",
  "hcp_link",
  "imprecise_lease_role_tracking",
  "introspection_endpoint",
  "license_path",
  "log_file",
  "log_format",
  "log_requests_level",
  "log_rotate_bytes",
  "log_rotate_duration",
  "log_rotate_max_files",
  "pid_file",
  "plugin_directory",
  "plugin_file_permissions",
  "plugin_file_uid",
  "plugin_tmpdir",
  "raw_storage_endpoint",
  "reporting",
  "service_registration",
  "user_lockout",
]);

interface Merged {
  storage?: FromFile<StorageConfig>;
  haStorage?: FromFile<StorageConfig>;
  listeners: ListenerConfig[];
  seals: SealBlock[];
  apiAddr?: FromFile<string>;
  clusterAddr?: FromFile<string>;
  logLevel?: FromFile<string>;
  disableClustering?: boolean;
  ui?: boolean;
  standbyHoldMs?: number;
  shutdownDelayMs?: number;
  cacheSize?: number;
  disableCache?: boolean;
  standbyReads?: boolean;
  disablePerformanceStandby?: FromFile<boolean>;
  allowAuditLogPrefixing?: boolean;
  defaultLeaseTtl?: FromFile<number>;
  maxLeaseTtl?: FromFile<number>;
  telemetry?: TelemetryConfig;
}

/**
 * Validates and merges configuration files the way Vault does: later files win for single values,
 * listeners accumulate, storage and ha_storage may be defined only once. The environment
 * (VAULT_API_ADDR, VAULT_CLUSTER_ADDR, VAULT_LOG_LEVEL) wins over the files.
 */
export function parseServerConfig(sources: ConfigSource[], env: Env, storageTypes: StorageTypes): ServerConfig {
  const warnings: string[] = [];
  const merged: Merged = { listeners: [], seals: [] };
  for (const source of sources) readSource(source, merged, storageTypes, warnings);

  const files = sources.map((source) => source.file);
  const where = files.length > 0 ? files.join(", ") : "configuration";
  if (!merged.storage) {
    throw new ConfigError(`${where}: a storage "<type>" { ... } stanza is required; known types: ${knownTypes(storageTypes)}`);
  }
  const firstListener = merged.listeners[0];
  if (!firstListener) throw new ConfigError(`${where}: at least one listener "tcp" { ... } stanza is required`);

  const disableClustering = merged.disableClustering ?? false;
  const apiAddr = resolveApiAddr(env, merged.apiAddr, firstListener, warnings);
  const clusterAddr = resolveClusterAddr(env, merged.clusterAddr, apiAddr, firstListener, warnings);
  if (!disableClustering && clusterAddr.host === apiAddr.host) {
    warnings.push(
      `cluster_addr ${quote(clusterAddr.origin)} is the same host and port as api_addr; ` +
        `it must be this node's own cluster port (not the API port or a load balancer)`,
    );
  }

  return {
    storage: merged.storage.value,
    ...(merged.haStorage && { haStorage: merged.haStorage.value }),
    listeners: merged.listeners,
    ...(merged.seals.length > 0 && { seals: parseSeals(merged.seals, env, warnings) }),
    apiAddr: apiAddr.origin,
    clusterAddr: clusterAddr.origin,
    disableClustering,
    logLevel: resolveLogLevel(env, merged.logLevel),
    ui: merged.ui ?? false,
    standbyHoldMs: merged.standbyHoldMs ?? DEFAULT_STANDBY_HOLD_MS,
    shutdownDelayMs: merged.shutdownDelayMs ?? 0,
    ...(merged.cacheSize !== undefined && { cacheSize: merged.cacheSize }),
    ...(merged.disableCache !== undefined && { disableCache: merged.disableCache }),
    standbyReads: resolveStandbyReads(merged.standbyReads, merged.disablePerformanceStandby),
    allowAuditLogPrefixing: merged.allowAuditLogPrefixing ?? false,
    ...((merged.defaultLeaseTtl || merged.maxLeaseTtl) && { leaseTtls: resolveLeaseTtls(merged.defaultLeaseTtl, merged.maxLeaseTtl) }),
    ...(merged.telemetry && { telemetry: merged.telemetry }),
    files,
    warnings,
  };
}

function readSource(source: ConfigSource, merged: Merged, storageTypes: StorageTypes, warnings: string[]): void {
  const { file, body } = source;
  if (!isObject(body)) throw new ConfigError(`${file}: the configuration must be an object, got ${describe(body)}`);
  let listenerNumber = 0;
  for (const [key, value] of Object.entries(body)) {
    const at = `${file}: "${key}"`;
    switch (key) {
      case "storage":
      case "backend": // Vault's older name for storage
        merged.storage = defineStorage("storage", value, file, merged.storage, storageTypes);
        break;
      case "ha_storage":
      case "ha_backend":
        merged.haStorage = defineStorage("ha_storage", value, file, merged.haStorage, storageTypes);
        break;
      case "listener":
        for (const block of blocks("listener", value, file)) {
          listenerNumber += 1;
          merged.listeners.push(parseListener(block, `${file}: listener "${block.type}" #${listenerNumber}`, warnings));
        }
        break;
      case "seal":
        for (const block of blocks("seal", value, file)) merged.seals.push({ ...block, file });
        break;
      case "api_addr":
        merged.apiAddr = { value: requireString(value, at), file };
        break;
      case "cluster_addr":
        merged.clusterAddr = { value: requireString(value, at), file };
        break;
      case "log_level":
        merged.logLevel = { value: requireString(value, at), file };
        break;
      case "disable_clustering":
        merged.disableClustering = requireBool(value, at);
        break;
      case "ui":
        merged.ui = requireBool(value, at);
        break;
      case "standby_hold_timeout":
        merged.standbyHoldMs = requireDurationMs(value, at);
        break;
      case "shutdown_delay":
        merged.shutdownDelayMs = requireDurationMs(value, at);
        break;
      case "cache_size":
        merged.cacheSize = requireCacheSize(value, at);
        break;
      case "disable_cache":
        merged.disableCache = requireBool(value, at);
        break;
      case "standby_reads":
        merged.standbyReads = requireBool(value, at);
        break;
      // Vault Enterprise's switch for the same thing, the other way round.
      case "disable_performance_standby":
        merged.disablePerformanceStandby = { value: requireBool(value, at), file };
        break;
      case "allow_audit_log_prefixing":
        merged.allowAuditLogPrefixing = requireBool(value, at);
        break;
      case "default_lease_ttl":
        merged.defaultLeaseTtl = { value: requireLeaseTtlSeconds(value, at), file };
        break;
      case "max_lease_ttl":
        merged.maxLeaseTtl = { value: requireLeaseTtlSeconds(value, at), file };
        break;
      case "telemetry":
        merged.telemetry = parseTelemetry(value, at, warnings);
        break;
      default:
        warnings.push(VAULT_KEYS_NOT_USED.has(key) ? `${at} is a Vault setting Strongbox does not use; ignored` : `${at} is not a known setting; ignored`);
    }
  }
}

/** Vault's `cache_size`: a whole number of entries, as a number or a string of digits. */
function requireCacheSize(value: unknown, at: string): number {
  const size = typeof value === "number" ? value : typeof value === "string" && /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isSafeInteger(size) || size < 1) {
    throw new ConfigError(
      `${at} must be a whole number of entries of at least 1 (default 131072; to turn the cache off use disable_cache = true), got ${describe(value)}`,
    );
  }
  return size;
}

/**
 * Accepts every shape blocks arrive in: `{type: {...}}` and `{type: [{...}]}` (Vault JSON, HCL converter),
 * and arrays of those (`"listener": [{"tcp": {...}}]`).
 */
function blocks(keyword: string, value: unknown, file: string): Block[] {
  const found: Block[] = [];
  for (const item of Array.isArray(value) ? value : [value]) {
    if (!isObject(item)) {
      throw new ConfigError(`${file}: "${keyword}" must be written as ${keyword} "<type>" { ... }, got ${describe(item)}`);
    }
    for (const [type, inner] of Object.entries(item)) {
      for (const body of Array.isArray(inner) ? inner : [inner]) {
        if (!isObject(body)) {
          throw new ConfigError(`${file}: ${keyword} "${type}" must be a block of settings, got ${describe(body)}`);
        }
        found.push({ type, body });
      }
    }
  }
  return found;
}

function defineStorage(
  keyword: "storage" | "ha_storage",
  value: unknown,
  file: string,
  previous: FromFile<StorageConfig> | undefined,
  storageTypes: StorageTypes,
): FromFile<StorageConfig> {
  const found = blocks(keyword, value, file);
  const [block] = found;
  if (!block || found.length > 1) {
    const types = found.map((b) => `"${b.type}"`).join(", ");
    throw new ConfigError(
      `${file}: "${keyword}" must hold exactly one ${keyword} "<type>" { ... } stanza, found ${found.length}` + (types ? ` (${types})` : ""),
    );
  }
  if (previous) {
    throw new ConfigError(`${file}: "${keyword}" is already defined in ${previous.file}; define it only once`);
  }
  const at = `${file}: ${keyword} "${block.type}"`;
  const capabilities = Object.hasOwn(storageTypes, block.type) ? storageTypes[block.type] : undefined;
  if (!capabilities) throw new ConfigError(`${at}: unknown storage type; known types: ${knownTypes(storageTypes)}`);
  if (keyword === "ha_storage" && !capabilities.ha) {
    const haTypes = Object.keys(storageTypes)
      .filter((type) => storageTypes[type]?.ha)
      .sort();
    throw new ConfigError(
      `${at}: the "${block.type}" backend does not support HA; ` + (haTypes.length > 0 ? `backends that do: ${haTypes.join(", ")}` : "no known backend does"),
    );
  }
  const options: Record<string, string> = {};
  for (const [key, option] of Object.entries(block.body)) options[key] = optionString(option);
  return { value: { type: block.type, options }, file };
}

/** Backends receive strings, as Vault's map[string]string: scalars as text, anything nested as JSON. */
function optionString(value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}

function resolveLogLevel(env: Env, fromFile: FromFile<string> | undefined): LogLevel {
  const fromEnv = envValue(env, "VAULT_LOG_LEVEL");
  const given =
    fromEnv !== undefined ? { raw: fromEnv, subject: "VAULT_LOG_LEVEL" } : fromFile && { raw: fromFile.value, subject: `${fromFile.file}: "log_level"` };
  if (!given) return "info";
  const name = given.raw.trim().toLowerCase();
  const level = Object.hasOwn(LOG_LEVELS, name) ? LOG_LEVELS[name] : undefined;
  if (!level) {
    throw new ConfigError(`${given.subject} must be one of trace, debug, info, warn, error; got ${quote(given.raw)}`);
  }
  return level;
}

function knownTypes(storageTypes: StorageTypes): string {
  return Object.keys(storageTypes).sort().join(", ");
}

/**
 * `standby_reads`, or Vault's `disable_performance_standby` saying the opposite; both must agree.
 * On when neither is set: standbys are performance standbys, as in Vault Enterprise.
 */
function resolveStandbyReads(standbyReads: boolean | undefined, disable: FromFile<boolean> | undefined): boolean {
  if (disable && standbyReads !== undefined && standbyReads === disable.value) {
    throw new ConfigError(
      `${disable.file}: "disable_performance_standby" = ${disable.value} contradicts "standby_reads" = ${standbyReads}; set one of them (they are the same switch)`,
    );
  }
  return standbyReads ?? (disable ? !disable.value : true);
}
