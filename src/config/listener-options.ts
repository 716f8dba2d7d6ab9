import { parseCidr, type CidrBlock } from "../sdk/cidr.js";
import { requireDurationMs } from "./duration.js";
import { ConfigError, type ListenerConfig, type ProxyProtocolBehavior, type TlsVersion } from "./types.js";
import { describe, isObject, quote, requireBool, requireString } from "./values.js";

/** A listener key's value and where it was written, for messages. */
export interface RawOption {
  value: unknown;
  at: string;
}

/**
 * Vault listener settings beyond address, cluster_address, the TLS files, max_request_size and
 * telemetry. Every one is either enforced or refused here: a migrated configuration must never
 * silently lose a protection (a client-certificate requirement, say) it was written to have.
 */
export const LISTENER_OPTION_KEYS = new Set([
  "tls_min_version",
  "tls_max_version",
  "tls_cipher_suites",
  "tls_prefer_server_cipher_suites",
  "tls_require_and_verify_client_cert",
  "tls_client_ca_file",
  "tls_disable_client_certs",
  "x_forwarded_for_authorized_addrs",
  "x_forwarded_for_hop_skips",
  "x_forwarded_for_reject_not_authorized",
  "x_forwarded_for_reject_not_present",
  "proxy_protocol_behavior",
  "proxy_protocol_authorized_addrs",
  "http_read_header_timeout",
  "http_read_timeout",
  "http_write_timeout",
  "http_idle_timeout",
  "chroot_namespace",
  "redact_addresses",
  "redact_cluster_name",
  "redact_version",
  "profiling",
  "inflight_requests_logging",
  "disable_replication_status_endpoints",
  "disable_request_limiter",
]);

/** Vault listener settings Strongbox has no feature for: refused at startup, with the reason. */
export const REFUSED_LISTENER_KEYS: Record<string, string> = {
  custom_response_headers: "custom response headers are not implemented; remove it (a proxy in front can add headers)",
  max_request_duration: "requests are not cancelled after a duration; remove it",
  x_forwarded_for_client_cert_header:
    "client certificates passed by a proxy in a header are not accepted (the cert auth method takes the listener's own TLS handshake only); remove it",
  x_forwarded_for_client_cert_header_decoders:
    "client certificates passed by a proxy in a header are not accepted (the cert auth method takes the listener's own TLS handshake only); remove it",
  max_json_depth: "JSON shape limits are not implemented (max_request_size bounds bodies); remove it",
  max_json_string_value_length: "JSON shape limits are not implemented (max_request_size bounds bodies); remove it",
  max_json_object_entry_count: "JSON shape limits are not implemented (max_request_size bounds bodies); remove it",
  max_json_array_element_count: "JSON shape limits are not implemented (max_request_size bounds bodies); remove it",
  max_json_token: "JSON shape limits are not implemented (max_request_size bounds bodies); remove it",
  max_token_header_size: "a token header size limit is not implemented; remove it",
  require_request_header: "it is a Vault Agent/Proxy listener setting, not a server one; remove it",
  agent_api: "it is a Vault Agent listener setting, not a server one; remove it",
  proxy_api: "it is a Vault Proxy listener setting, not a server one; remove it",
  role: "it is a Vault Agent/Proxy listener setting, not a server one; remove it",
  purpose: "listener purposes are not implemented; remove it",
  cors_enabled: "CORS is not implemented; remove it",
  cors_allowed_origins: "CORS is not implemented; remove it",
  cors_allowed_headers: "CORS is not implemented; remove it",
  socket_mode: "only tcp listeners exist; remove it",
  socket_user: "only tcp listeners exist; remove it",
  socket_group: "only tcp listeners exist; remove it",
};

const TLS_VERSIONS: Record<string, TlsVersion> = { tls12: "TLSv1.2", tls13: "TLSv1.3" };

/** Vault's (Go's) cipher suite names → OpenSSL's. TLS 1.3 names restrict TLS 1.3 suites; without any, TLS 1.3 keeps its defaults, as in Go. */
const CIPHER_SUITES: Record<string, string> = {
  TLS_RSA_WITH_AES_128_CBC_SHA: "AES128-SHA",
  TLS_RSA_WITH_AES_256_CBC_SHA: "AES256-SHA",
  TLS_RSA_WITH_AES_128_CBC_SHA256: "AES128-SHA256",
  TLS_RSA_WITH_AES_128_GCM_SHA256: "AES128-GCM-SHA256",
  TLS_RSA_WITH_AES_256_GCM_SHA384: "AES256-GCM-SHA384",
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: "ECDHE-ECDSA-AES128-SHA",
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: "ECDHE-ECDSA-AES256-SHA",
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: "ECDHE-RSA-AES128-SHA",
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: "ECDHE-RSA-AES256-SHA",
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256: "ECDHE-ECDSA-AES128-SHA256",
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256: "ECDHE-RSA-AES128-SHA256",
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: "ECDHE-RSA-AES128-GCM-SHA256",
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: "ECDHE-ECDSA-AES128-GCM-SHA256",
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: "ECDHE-RSA-AES256-GCM-SHA384",
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: "ECDHE-ECDSA-AES256-GCM-SHA384",
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305: "ECDHE-RSA-CHACHA20-POLY1305",
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: "ECDHE-RSA-CHACHA20-POLY1305",
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305: "ECDHE-ECDSA-CHACHA20-POLY1305",
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: "ECDHE-ECDSA-CHACHA20-POLY1305",
  TLS_AES_128_GCM_SHA256: "TLS_AES_128_GCM_SHA256",
  TLS_AES_256_GCM_SHA384: "TLS_AES_256_GCM_SHA384",
  TLS_CHACHA20_POLY1305_SHA256: "TLS_CHACHA20_POLY1305_SHA256",
};

/** The settings in LISTENER_OPTION_KEYS, validated together (some only mean something with others). */
export function parseListenerOptions(raw: Record<string, RawOption>, where: string, tlsDisable: boolean): Partial<ListenerConfig> {
  return { ...tlsOptions(raw, where, tlsDisable), ...forwardedFor(raw, where), ...proxyProtocol(raw, where), ...httpTimeouts(raw), ...featureSwitches(raw) };
}

function tlsOptions(raw: Record<string, RawOption>, where: string, tlsDisable: boolean): Partial<ListenerConfig> {
  const out: Partial<ListenerConfig> = {};
  if (tlsDisable) {
    // A client-certificate or version requirement on a plain-HTTP listener would be a promise nothing keeps.
    const set = ["tls_min_version", "tls_max_version", "tls_cipher_suites", "tls_client_ca_file"].find((key) => raw[key]);
    if (set) throw new ConfigError(`${raw[set]!.at} is set, but tls_disable = true turns TLS off on this listener; remove one of them`);
    if (raw.tls_require_and_verify_client_cert && requireBool(raw.tls_require_and_verify_client_cert.value, raw.tls_require_and_verify_client_cert.at)) {
      throw new ConfigError(`${raw.tls_require_and_verify_client_cert.at} cannot be enforced: tls_disable = true turns TLS off on this listener`);
    }
  }
  for (const key of ["tls_min_version", "tls_max_version"] as const) {
    const option = raw[key];
    if (!option) continue;
    const text = requireString(option.value, option.at);
    const version = TLS_VERSIONS[text];
    if (!version) {
      const why = text === "tls10" || text === "tls11" ? "TLS 1.0 and 1.1 are refused (insecure, and off in OpenSSL 3)" : "unknown version";
      throw new ConfigError(`${option.at} must be "tls12" or "tls13": ${why}; got ${quote(text)}`);
    }
    if (key === "tls_min_version") out.tlsMinVersion = version;
    else out.tlsMaxVersion = version;
  }
  if (out.tlsMinVersion === "TLSv1.3" && out.tlsMaxVersion === "TLSv1.2") {
    throw new ConfigError(`${where}: tls_min_version "tls13" is above tls_max_version "tls12"`);
  }
  if (raw.tls_cipher_suites) {
    const { value, at } = raw.tls_cipher_suites;
    const names = requireString(value, at)
      .split(",")
      .map((name) => name.trim())
      .filter(Boolean);
    const unknown = names.find((name) => !CIPHER_SUITES[name]);
    if (unknown) {
      const insecure = /RC4|3DES/.test(unknown) ? " (RC4 and 3DES suites are refused as insecure)" : "";
      throw new ConfigError(`${at}: ${quote(unknown)} is not a supported cipher suite${insecure}; supported: ${Object.keys(CIPHER_SUITES).join(", ")}`);
    }
    if (names.length > 0) out.tlsCiphers = [...new Set(names.map((name) => CIPHER_SUITES[name]!))].join(":");
  }
  if (raw.tls_prefer_server_cipher_suites) {
    out.tlsPreferServerCipherSuites = requireBool(raw.tls_prefer_server_cipher_suites.value, raw.tls_prefer_server_cipher_suites.at);
  }
  const require = raw.tls_require_and_verify_client_cert;
  const requireClientCert = require ? requireBool(require.value, require.at) : false;
  const disable = raw.tls_disable_client_certs;
  if (disable && requireBool(disable.value, disable.at) && requireClientCert) {
    throw new ConfigError(`${where}: tls_disable_client_certs and tls_require_and_verify_client_cert are mutually exclusive; set at most one to true`);
  }
  if (raw.tls_client_ca_file) {
    const { value, at } = raw.tls_client_ca_file;
    if (!requireClientCert) {
      throw new ConfigError(
        `${at} only takes effect with tls_require_and_verify_client_cert = true (without it, client certificates are asked for but judged by the cert auth method, not this CA); set that, or remove it`,
      );
    }
    out.tlsClientCaFile = requireString(value, at);
  }
  if (requireClientCert) out.tlsRequireClientCert = true;
  if (disable && requireBool(disable.value, disable.at)) out.tlsDisableClientCerts = true;
  return out;
}

function forwardedFor(raw: Record<string, RawOption>, where: string): Partial<ListenerConfig> {
  const authorized = raw.x_forwarded_for_authorized_addrs;
  if (!authorized) {
    const set = ["x_forwarded_for_hop_skips", "x_forwarded_for_reject_not_authorized", "x_forwarded_for_reject_not_present"].find((key) => raw[key]);
    if (set) throw new ConfigError(`${raw[set]!.at} is set, but X-Forwarded-For is not enabled: set x_forwarded_for_authorized_addrs too, or remove it`);
    return {};
  }
  let hopSkips = 0;
  if (raw.x_forwarded_for_hop_skips) {
    const { value, at } = raw.x_forwarded_for_hop_skips;
    hopSkips = typeof value === "number" ? value : typeof value === "string" && /^-?\d+$/.test(value.trim()) ? Number(value) : NaN;
    if (!Number.isSafeInteger(hopSkips) || hopSkips < 0) throw new ConfigError(`${at} must be a whole number of hops, 0 or more; got ${describe(value)}`);
  }
  // Vault's code defaults both to false (its documentation says true): a header is then ignored, not refused.
  const flag = (key: string) => (raw[key] ? requireBool(raw[key].value, raw[key].at) : false);
  return {
    xForwardedFor: {
      authorizedAddrs: addressList(authorized, where),
      hopSkips,
      rejectNotAuthorized: flag("x_forwarded_for_reject_not_authorized"),
      rejectNotPresent: flag("x_forwarded_for_reject_not_present"),
    },
  };
}

const PROXY_BEHAVIORS: readonly ProxyProtocolBehavior[] = ["use_always", "allow_authorized", "deny_unauthorized"];

function proxyProtocol(raw: Record<string, RawOption>, where: string): Partial<ListenerConfig> {
  const behaviorOption = raw.proxy_protocol_behavior;
  const addrs = raw.proxy_protocol_authorized_addrs;
  const behavior = behaviorOption ? requireString(behaviorOption.value, behaviorOption.at) : "";
  if (behavior === "") {
    if (addrs) throw new ConfigError(`${addrs.at} is set, but proxy_protocol_behavior is not: set it too, or remove it`);
    return {};
  }
  if (!PROXY_BEHAVIORS.includes(behavior as ProxyProtocolBehavior)) {
    throw new ConfigError(`${behaviorOption!.at} must be one of ${PROXY_BEHAVIORS.join(", ")}; got ${quote(behavior)}`);
  }
  if (behavior === "use_always") {
    if (addrs)
      throw new ConfigError(
        `${addrs.at} has no effect with proxy_protocol_behavior = "use_always" (every sender's header is used); remove it, or use "allow_authorized" or "deny_unauthorized"`,
      );
    return { proxyProtocol: { behavior, authorizedAddrs: [] } };
  }
  if (!addrs) throw new ConfigError(`${where}: proxy_protocol_behavior = ${quote(behavior)} needs proxy_protocol_authorized_addrs`);
  return { proxyProtocol: { behavior: behavior as ProxyProtocolBehavior, authorizedAddrs: addressList(addrs, where) } };
}

function httpTimeouts(raw: Record<string, RawOption>): Partial<ListenerConfig> {
  const keys = { http_read_header_timeout: "readHeaderMs", http_read_timeout: "readMs", http_write_timeout: "writeMs", http_idle_timeout: "idleMs" } as const;
  const timeouts: NonNullable<ListenerConfig["httpTimeouts"]> = {};
  for (const [key, field] of Object.entries(keys)) {
    if (raw[key]) timeouts[field] = requireDurationMs(raw[key].value, raw[key].at);
  }
  return Object.keys(timeouts).length > 0 ? { httpTimeouts: timeouts } : {};
}

/** Settings for features Strongbox does not have: the value that asks for nothing is accepted, any other refused. */
function featureSwitches(raw: Record<string, RawOption>): Partial<ListenerConfig> {
  if (raw.chroot_namespace && requireString(raw.chroot_namespace.value, raw.chroot_namespace.at) !== "") {
    throw new ConfigError(`${raw.chroot_namespace.at}: namespaces are not implemented, so only "" is accepted`);
  }
  for (const key of ["redact_addresses", "redact_cluster_name", "redact_version"]) {
    if (raw[key] && requireBool(raw[key].value, raw[key].at)) {
      throw new ConfigError(
        `${raw[key].at}: redaction is not implemented (sys/health, sys/leader and sys/seal-status would still show the values), so only false is accepted`,
      );
    }
  }
  const blockFlag = (key: string, flag: string, endpoint: string) => {
    if (!raw[key]) return;
    const { value, at } = raw[key];
    const body = Array.isArray(value) && value.length === 1 ? value[0] : value;
    if (!isObject(body)) throw new ConfigError(`${at} must be a block (${key} { ... }), got ${describe(value)}`);
    for (const [name, item] of Object.entries(body)) {
      if (name !== flag) throw new ConfigError(`${at}: "${name}" is not a ${key} setting (allowed: ${flag})`);
      if (requireBool(item, `${at}: "${name}"`)) throw new ConfigError(`${at}: "${name}": ${endpoint} does not exist, so only false is accepted`);
    }
  };
  blockFlag("profiling", "unauthenticated_pprof_access", "sys/pprof");
  blockFlag("inflight_requests_logging", "unauthenticated_in_flight_requests_access", "sys/in-flight-req");
  // Neither replication status endpoints nor a request limiter exist: either value describes the server as it is.
  for (const key of ["disable_replication_status_endpoints", "disable_request_limiter"]) {
    if (raw[key]) requireBool(raw[key].value, raw[key].at);
  }
  return {};
}

/** Vault's address list: a comma-separated string or a list; IPs or CIDR blocks; at least one. */
function addressList({ value, at }: RawOption, where: string): CidrBlock[] {
  const items = typeof value === "string" ? value.split(",") : Array.isArray(value) ? value : undefined;
  if (!items || items.some((item) => typeof item !== "string")) {
    throw new ConfigError(`${at} must be a comma-separated string or a list of addresses or CIDR blocks, got ${describe(value)}`);
  }
  const texts = (items as string[]).map((item) => item.trim()).filter(Boolean);
  if (texts.length === 0) throw new ConfigError(`${at} must name at least one address or CIDR block (${where})`);
  return texts.map((text) => {
    const block = parseCidr(text);
    if (!block) throw new ConfigError(`${at}: ${quote(text)} is not an IP address or CIDR block`);
    return block;
  });
}
