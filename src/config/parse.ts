import {
  ConfigError,
  type ListenerConfig,
  type LogLevel,
  type ServerConfig,
  type StorageConfig,
} from "./types.js";

/** One configuration file, already turned into a JSON-shaped value (by JSON.parse or an HCL converter). */
export interface ConfigSource {
  file: string;
  body: unknown;
}

/** The storage backends this build knows, and whether each can hold the HA lock. */
export type StorageTypes = Record<string, { ha: boolean }>;

export type Env = Record<string, string | undefined>;

const DEFAULT_LISTENER_ADDRESS = "127.0.0.1:8200";
const DEFAULT_MAX_REQUEST_SIZE = 32 * 1024 * 1024;

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
  "cache_size",
  "cluster_cipher_suites",
  "cluster_name",
  "default_lease_ttl",
  "default_max_request_duration",
  "detect_deadlocks",
  "disable_cache",
  "disable_mlock",
  "disable_performance_standby",
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
  "max_lease_ttl",
  "pid_file",
  "plugin_directory",
  "plugin_file_permissions",
  "plugin_file_uid",
  "plugin_tmpdir",
  "raw_storage_endpoint",
  "reporting",
  "seal",
  "service_registration",
  "telemetry",
  "user_lockout",
]);

const VAULT_LISTENER_KEYS_NOT_USED = new Set([
  "agent_api",
  "chroot_namespace",
  "cors",
  "custom_response_headers",
  "disable_replication_status_endpoints",
  "disable_request_limiter",
  "http_idle_timeout",
  "http_read_header_timeout",
  "http_read_timeout",
  "http_write_timeout",
  "inflight_requests_logging",
  "max_request_duration",
  "profiling",
  "proxy_protocol_authorized_addrs",
  "proxy_protocol_behavior",
  "purpose",
  "redact_addresses",
  "redact_cluster_name",
  "redact_version",
  "require_request_header",
  "role",
  "telemetry",
  "tls_cipher_suites",
  "tls_client_ca_file",
  "tls_disable_client_certs",
  "tls_max_version",
  "tls_min_version",
  "tls_prefer_server_cipher_suites",
  "tls_require_and_verify_client_cert",
  "unauthenticated_metrics_access",
  "x_forwarded_for_authorized_addrs",
  "x_forwarded_for_client_cert_header",
  "x_forwarded_for_client_cert_header_decoders",
  "x_forwarded_for_hop_skips",
  "x_forwarded_for_reject_not_authorized",
  "x_forwarded_for_reject_not_present",
]);

type Json = Record<string, unknown>;

interface Block {
  type: string;
  body: Json;
}

/** A value together with the file that set it, so later errors can name that file. */
interface FromFile<T> {
  value: T;
  file: string;
}

interface Merged {
  storage?: FromFile<StorageConfig>;
  haStorage?: FromFile<StorageConfig>;
  listeners: ListenerConfig[];
  apiAddr?: FromFile<string>;
  clusterAddr?: FromFile<string>;
  logLevel?: FromFile<string>;
  disableClustering?: boolean;
  ui?: boolean;
}

/**
 * Validates and merges configuration files the way Vault does: later files win for single values,
 * listeners accumulate, storage and ha_storage may be defined only once. The environment
 * (VAULT_API_ADDR, VAULT_CLUSTER_ADDR, VAULT_LOG_LEVEL) wins over the files.
 */
export function parseServerConfig(sources: ConfigSource[], env: Env, storageTypes: StorageTypes): ServerConfig {
  const warnings: string[] = [];
  const merged: Merged = { listeners: [] };
  for (const source of sources) readSource(source, merged, storageTypes, warnings);

  const files = sources.map((source) => source.file);
  const where = files.length > 0 ? files.join(", ") : "configuration";
  if (!merged.storage) {
    throw new ConfigError(
      `${where}: a storage "<type>" { ... } stanza is required; known types: ${knownTypes(storageTypes)}`,
    );
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
    apiAddr: apiAddr.origin,
    clusterAddr: clusterAddr.origin,
    disableClustering,
    logLevel: resolveLogLevel(env, merged.logLevel),
    ui: merged.ui ?? false,
    files,
    warnings,
  };
}

/** Splits "host:port" / "[v6]:port" into its parts (host without brackets), or undefined if malformed. */
export function splitHostPort(address: string): { host: string; port: number } | undefined {
  let host: string;
  let portText: string;
  if (address.startsWith("[")) {
    const close = address.indexOf("]");
    if (close < 0 || address[close + 1] !== ":") return undefined;
    host = address.slice(1, close);
    portText = address.slice(close + 2);
    if (!host.includes(":")) return undefined;
  } else {
    const colon = address.lastIndexOf(":");
    if (colon < 0) return undefined;
    host = address.slice(0, colon);
    portText = address.slice(colon + 1);
    if (host.includes(":")) return undefined;
  }
  if (/[\s/[\]@?#]/.test(host) || !/^\d{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  return port <= 65535 ? { host, port } : undefined;
}

function joinHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
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
      default:
        warnings.push(
          VAULT_KEYS_NOT_USED.has(key)
            ? `${at} is a Vault setting Strongbox does not use; ignored`
            : `${at} is not a known setting; ignored`,
        );
    }
  }
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
      `${file}: "${keyword}" must hold exactly one ${keyword} "<type>" { ... } stanza, found ${found.length}` +
        (types ? ` (${types})` : ""),
    );
  }
  if (previous) {
    throw new ConfigError(`${file}: "${keyword}" is already defined in ${previous.file}; define it only once`);
  }
  const at = `${file}: ${keyword} "${block.type}"`;
  const capabilities = Object.hasOwn(storageTypes, block.type) ? storageTypes[block.type] : undefined;
  if (!capabilities) throw new ConfigError(`${at}: unknown storage type; known types: ${knownTypes(storageTypes)}`);
  if (keyword === "ha_storage" && !capabilities.ha) {
    const haTypes = Object.keys(storageTypes).filter((type) => storageTypes[type]?.ha).sort();
    throw new ConfigError(
      `${at}: the "${block.type}" backend does not support HA; ` +
        (haTypes.length > 0 ? `backends that do: ${haTypes.join(", ")}` : "no known backend does"),
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

function parseListener(block: Block, where: string, warnings: string[]): ListenerConfig {
  if (block.type !== "tcp") throw new ConfigError(`${where}: unsupported listener type; only "tcp" is supported`);
  let address = DEFAULT_LISTENER_ADDRESS;
  let clusterAddress: string | undefined;
  let tlsDisable = false;
  let tlsCertFile: string | undefined;
  let tlsKeyFile: string | undefined;
  let maxRequestSize = DEFAULT_MAX_REQUEST_SIZE;
  for (const [key, value] of Object.entries(block.body)) {
    const at = `${where}: "${key}"`;
    switch (key) {
      case "address":
        address = requireHostPort(value, at);
        break;
      case "cluster_address":
        clusterAddress = requireHostPort(value, at);
        break;
      case "tls_disable":
        tlsDisable = requireBool(value, at);
        break;
      case "tls_cert_file":
        tlsCertFile = requireString(value, at);
        break;
      case "tls_key_file":
        tlsKeyFile = requireString(value, at);
        break;
      case "max_request_size":
        maxRequestSize = requestSizeLimit(value, at);
        break;
      default:
        warnings.push(
          VAULT_LISTENER_KEYS_NOT_USED.has(key)
            ? `${at} is a Vault listener setting Strongbox does not use; ignored`
            : `${at} is not a known listener setting; ignored`,
        );
    }
  }

  if (clusterAddress === undefined) {
    const { host, port } = splitHostPort(address)!;
    if (port === 65535) {
      throw new ConfigError(`${where}: "cluster_address" defaults to the address's port + 1, which is past 65535; set it`);
    }
    clusterAddress = joinHostPort(host, port === 0 ? 0 : port + 1);
  }

  if (!tlsDisable) {
    const missing = [!tlsCertFile && "tls_cert_file", !tlsKeyFile && "tls_key_file"]
      .filter(Boolean)
      .join(" and ");
    if (missing) {
      throw new ConfigError(`${where}: TLS is on, so ${missing} must be set; or set tls_disable = true`);
    }
  }

  return {
    type: "tcp",
    address,
    clusterAddress,
    tlsDisable,
    ...(tlsCertFile !== undefined && { tlsCertFile }),
    ...(tlsKeyFile !== undefined && { tlsKeyFile }),
    maxRequestSize,
  };
}

function requireHostPort(value: unknown, at: string): string {
  const address = requireString(value, at);
  const parts = splitHostPort(address);
  // An empty host (":8200") listens on all interfaces; any other host must also work inside a URL.
  if (parts && (parts.host === "" || URL.canParse(`http://${joinHostPort(parts.host, parts.port)}`))) return address;
  if (!address.startsWith("[") && address.split(":").length > 2) {
    throw new ConfigError(`${at} must put an IPv6 address in brackets, e.g. "[::1]:8200", got ${quote(address)}`);
  }
  throw new ConfigError(
    `${at} must be host:port with a port from 0 to 65535 (0 picks a free port), e.g. "127.0.0.1:8200", ` +
      `got ${quote(address)}`,
  );
}

/** Integer bytes (number or numeric string); 0 means Vault's default, a negative value means no limit. */
function requestSizeLimit(value: unknown, at: string): number {
  const bytes =
    typeof value === "number" ? value : typeof value === "string" && /^-?\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(bytes)) {
    throw new ConfigError(`${at} must be an integer number of bytes, got ${describe(value)}`);
  }
  if (bytes === 0) return DEFAULT_MAX_REQUEST_SIZE;
  return bytes < 0 ? Number.POSITIVE_INFINITY : bytes;
}

function resolveApiAddr(env: Env, fromFile: FromFile<string> | undefined, listener: ListenerConfig, warnings: string[]): URL {
  const fromEnv = envValue(env, "VAULT_API_ADDR");
  if (fromEnv !== undefined) return parseUrlAddress(fromEnv, "VAULT_API_ADDR", ["http", "https"], warnings);
  if (fromFile) return parseUrlAddress(fromFile.value, `${fromFile.file}: "api_addr"`, ["http", "https"], warnings);

  const { host, port } = splitHostPort(listener.address)!;
  const scheme = listener.tlsDisable ? "http" : "https";
  if (!isUnspecifiedHost(host)) return new URL(`${scheme}://${joinHostPort(host, port)}`);
  const derived = new URL(`${scheme}://127.0.0.1:${port}`);
  warnings.push(
    `api_addr is not set and the first listener listens on all interfaces (${listener.address}); ` +
      `using ${quote(derived.origin)}, which other nodes cannot reach: set api_addr or VAULT_API_ADDR`,
  );
  return derived;
}

function resolveClusterAddr(
  env: Env,
  fromFile: FromFile<string> | undefined,
  apiAddr: URL,
  listener: ListenerConfig,
  warnings: string[],
): URL {
  const fromEnv = envValue(env, "VAULT_CLUSTER_ADDR");
  const given =
    fromEnv !== undefined
      ? { raw: fromEnv, subject: "VAULT_CLUSTER_ADDR" }
      : fromFile && { raw: fromFile.value, subject: `${fromFile.file}: "cluster_addr"` };
  if (!given) {
    const { port } = splitHostPort(listener.clusterAddress)!;
    return new URL(`https://${apiAddr.hostname}:${port}`);
  }
  let raw = given.raw.trim();
  // Cluster traffic is always mutual TLS, so an http:// address can only be a slip.
  if (/^http:\/\//i.test(raw)) {
    raw = `https://${raw.slice("http://".length)}`;
    warnings.push(`${given.subject}: the cluster port always uses TLS; using ${quote(raw)} instead of ${quote(given.raw)}`);
  }
  return parseUrlAddress(raw, given.subject, ["https"], warnings);
}

/** A full URL reduced to scheme://host[:port]; IPv6 hosts must come in brackets so the port is unambiguous. */
function parseUrlAddress(raw: string, subject: string, schemes: string[], warnings: string[]): URL {
  const text = raw.trim();
  const allowed = schemes.join(" or ");
  const schemeEnd = text.indexOf("://");
  if (schemeEnd < 0) {
    throw new ConfigError(
      `${subject} must be a full URL with scheme ${allowed}, got ${quote(raw)}; ` +
        `add "https://", e.g. ${quote(`https://${text}`)}`,
    );
  }
  const scheme = text.slice(0, schemeEnd).toLowerCase();
  if (!schemes.includes(scheme)) {
    throw new ConfigError(`${subject} must use scheme ${allowed}, got ${quote(raw)}`);
  }
  const authority = text.slice(schemeEnd + 3).split(/[/?#]/, 1)[0] ?? "";
  if (authority.includes("@")) {
    throw new ConfigError(`${subject} must not contain a user name or password`);
  }
  if (!authority.startsWith("[") && authority.split(":").length > 2) {
    throw new ConfigError(
      `${subject} has an IPv6 address without brackets, which makes the port ambiguous; ` +
        `write it like "${scheme}://[::1]:8200", got ${quote(raw)}`,
    );
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`${subject} is not a valid URL: ${quote(raw)}`);
  }
  if (url.pathname !== "/" || url.search || url.hash) {
    warnings.push(`${subject}: only scheme, host and port are used; ignoring the rest of ${quote(raw)}`);
  }
  return new URL(url.origin);
}

function resolveLogLevel(env: Env, fromFile: FromFile<string> | undefined): LogLevel {
  const fromEnv = envValue(env, "VAULT_LOG_LEVEL");
  const given =
    fromEnv !== undefined
      ? { raw: fromEnv, subject: "VAULT_LOG_LEVEL" }
      : fromFile && { raw: fromFile.value, subject: `${fromFile.file}: "log_level"` };
  if (!given) return "info";
  const name = given.raw.trim().toLowerCase();
  const level = Object.hasOwn(LOG_LEVELS, name) ? LOG_LEVELS[name] : undefined;
  if (!level) {
    throw new ConfigError(`${given.subject} must be one of trace, debug, info, warn, error; got ${quote(given.raw)}`);
  }
  return level;
}

function isUnspecifiedHost(host: string): boolean {
  if (host === "" || host === "0.0.0.0") return true;
  return host.includes(":") && new URL(`http://[${host}]`).hostname === "[::]";
}

function envValue(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === "" ? undefined : value;
}

function requireString(value: unknown, at: string): string {
  if (typeof value !== "string") throw new ConfigError(`${at} must be a string, got ${describe(value)}`);
  return value;
}

// The spellings Go's strconv.ParseBool accepts, which is what Vault uses, plus JSON numbers 1 and 0.
const TRUE_WORDS = new Set(["1", "t", "T", "true", "TRUE", "True"]);
const FALSE_WORDS = new Set(["0", "f", "F", "false", "FALSE", "False"]);

function requireBool(value: unknown, at: string): boolean {
  if (typeof value === "boolean") return value;
  const word = typeof value === "number" || typeof value === "string" ? String(value) : undefined;
  if (word !== undefined && TRUE_WORDS.has(word)) return true;
  if (word !== undefined && FALSE_WORDS.has(word)) return false;
  throw new ConfigError(`${at} must be true or false, got ${describe(value)}`);
}

function knownTypes(storageTypes: StorageTypes): string {
  return Object.keys(storageTypes).sort().join(", ");
}

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function quote(text: string): string {
  return JSON.stringify(text);
}

function describe(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
