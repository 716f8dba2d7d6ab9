import { ConfigError, type ListenerConfig } from "./types.js";
import { LISTENER_OPTION_KEYS, parseListenerOptions, type RawOption, REFUSED_LISTENER_KEYS } from "./listener-options.js";
import { parseListenerTelemetry } from "./telemetry.js";
import { type Block, describe, quote, requireBool, requireString } from "./values.js";

export const DEFAULT_LISTENER_ADDRESS = "127.0.0.1:8200";
export const DEFAULT_MAX_REQUEST_SIZE = 32 * 1024 * 1024;

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

export function joinHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Vault's rule for a listener without `cluster_address`: the API port + 1 (0, "any free port", stays 0). */
export function defaultClusterPort(apiPort: number): number {
  return apiPort === 0 ? 0 : apiPort + 1;
}

export function parseListener(block: Block, where: string, warnings: string[]): ListenerConfig {
  if (block.type !== "tcp") throw new ConfigError(`${where}: unsupported listener type; only "tcp" is supported`);
  let address = DEFAULT_LISTENER_ADDRESS;
  let clusterAddress: string | undefined;
  let tlsDisable = false;
  let tlsCertFile: string | undefined;
  let tlsKeyFile: string | undefined;
  let maxRequestSize = DEFAULT_MAX_REQUEST_SIZE;
  let unauthenticatedMetricsAccess = false;
  const options: Record<string, RawOption> = {};
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
      case "telemetry":
        unauthenticatedMetricsAccess = parseListenerTelemetry(value, at);
        break;
      default:
        if (LISTENER_OPTION_KEYS.has(key)) options[key] = { value, at };
        else if (REFUSED_LISTENER_KEYS[key]) throw new ConfigError(`${at} is not supported: ${REFUSED_LISTENER_KEYS[key]}`);
        else warnings.push(`${at} is not a known listener setting; ignored`);
    }
  }

  if (clusterAddress === undefined) {
    const { host, port } = splitHostPort(address)!;
    if (port === 65535) {
      throw new ConfigError(`${where}: "cluster_address" defaults to the address's port + 1, which is past 65535; set it`);
    }
    clusterAddress = joinHostPort(host, defaultClusterPort(port));
  }

  if (!tlsDisable) {
    const missing = [!tlsCertFile && "tls_cert_file", !tlsKeyFile && "tls_key_file"].filter(Boolean).join(" and ");
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
    ...(unauthenticatedMetricsAccess && { unauthenticatedMetricsAccess }),
    ...parseListenerOptions(options, where, tlsDisable),
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
  throw new ConfigError(`${at} must be host:port with a port from 0 to 65535 (0 picks a free port), e.g. "127.0.0.1:8200", ` + `got ${quote(address)}`);
}

/** Integer bytes (number or numeric string); 0 means Vault's default, a negative value means no limit. */
function requestSizeLimit(value: unknown, at: string): number {
  const bytes = typeof value === "number" ? value : typeof value === "string" && /^-?\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(bytes)) {
    throw new ConfigError(`${at} must be an integer number of bytes, got ${describe(value)}`);
  }
  if (bytes === 0) return DEFAULT_MAX_REQUEST_SIZE;
  return bytes < 0 ? Number.POSITIVE_INFINITY : bytes;
}
