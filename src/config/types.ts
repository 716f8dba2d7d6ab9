/** The validated server configuration, after files are merged and the environment applied. */

import type { CidrBlock } from "../sdk/cidr.js";
import type { LogLevel } from "../sdk/logger.js";

export type { LogLevel };

export interface StorageConfig {
  /** Backend type as written in `storage "<type>"`, e.g. "inmem", "file", "dynamodb", "s3". */
  type: string;
  /** The stanza's keys as strings, as Vault hands them to backends (map[string]string). */
  options: Record<string, string>;
}

export interface ListenerConfig {
  type: "tcp";
  /** host:port the API listens on ("127.0.0.1:8200", "[::1]:8200", "0.0.0.0:8200"). */
  address: string;
  /** host:port for the cluster (forwarding) listener; defaults to `address` with port + 1. */
  clusterAddress: string;
  tlsDisable: boolean;
  tlsCertFile?: string;
  tlsKeyFile?: string;
  /** Bytes; Vault's default is 32 MiB. */
  maxRequestSize: number;
  /** `telemetry { unauthenticated_metrics_access = true }`: sys/metrics on this listener needs no token. */
  unauthenticatedMetricsAccess?: boolean;
  /** `tls_min_version` / `tls_max_version` as Node names; absent = TLS 1.2 to 1.3. */
  tlsMinVersion?: TlsVersion;
  tlsMaxVersion?: TlsVersion;
  /** `tls_cipher_suites` translated to an OpenSSL cipher string; absent = Node's defaults. */
  tlsCiphers?: string;
  /** `tls_prefer_server_cipher_suites`: the server's order of `tlsCiphers` wins. */
  tlsPreferServerCipherSuites?: boolean;
  /** `tls_require_and_verify_client_cert`: the handshake fails without a client certificate that chains to `tlsClientCaFile` (or the system CAs). */
  tlsRequireClientCert?: boolean;
  tlsClientCaFile?: string;
  /** `tls_disable_client_certs`: no client certificate is asked for (the cert auth method then has none to judge). */
  tlsDisableClientCerts?: boolean;
  /** `x_forwarded_for_*`: when to take the client address from X-Forwarded-For. */
  xForwardedFor?: ForwardedForConfig;
  /** `proxy_protocol_*`: a PROXY protocol header before TLS/HTTP carries the client address. */
  proxyProtocol?: ProxyProtocolConfig;
  /** `http_*_timeout` in milliseconds, where set (0 = no limit). */
  httpTimeouts?: HttpTimeouts;
}

export type TlsVersion = "TLSv1.2" | "TLSv1.3";

export interface ForwardedForConfig {
  /** Connections from these addresses may name the client in X-Forwarded-For. */
  authorizedAddrs: CidrBlock[];
  /** How many addresses to skip from the end of the chain. */
  hopSkips: number;
  /** Refuse (400) a request with X-Forwarded-For from an address not authorized, instead of ignoring the header. */
  rejectNotAuthorized: boolean;
  /** Refuse (400) a request without a usable X-Forwarded-For, instead of using the connection's address. */
  rejectNotPresent: boolean;
}

export type ProxyProtocolBehavior = "use_always" | "allow_authorized" | "deny_unauthorized";

export interface ProxyProtocolConfig {
  behavior: ProxyProtocolBehavior;
  /** Senders whose header is trusted (all of them for use_always). */
  authorizedAddrs: CidrBlock[];
}

export interface HttpTimeouts {
  readHeaderMs?: number;
  readMs?: number;
  writeMs?: number;
  idleMs?: number;
}

/** The top-level `telemetry` stanza (Prometheus only). */
export interface TelemetryConfig {
  /** How long summaries keep observations; 0 turns the Prometheus format off. */
  prometheusRetentionMs: number;
  /** Without it every series carries a `host` label. */
  disableHostname: boolean;
}

export interface ServerConfig {
  storage: StorageConfig;
  haStorage?: StorageConfig;
  listeners: ListenerConfig[];
  /**
   * Normalised full URL without trailing slash, e.g. "https://10.0.0.5:8200" or "https://[::1]:8200".
   * `VAULT_API_ADDR` wins over the file; when neither is set it is derived from the first listener.
   */
  apiAddr: string;
  /** Normalised, always https, e.g. "https://10.0.0.5:8201". Env `VAULT_CLUSTER_ADDR` wins. */
  clusterAddr: string;
  disableClustering: boolean;
  logLevel: LogLevel;
  ui: boolean;
  /** How long a standby holds a request while no active node is known (`standby_hold_timeout`); 0 = off. */
  standbyHoldMs: number;
  /** After SIGTERM, how long health reports draining before the node stops taking requests (`shutdown_delay`). */
  shutdownDelayMs: number;
  /** Entries in the active node's storage read cache (`cache_size`); the default when absent. */
  cacheSize?: number;
  /** `disable_cache = true`: every read goes to storage. */
  disableCache?: boolean;
  /** `standby_reads` (on by default; `false` or `disable_performance_standby = true` turns it off): standbys answer read-only requests from storage. */
  standbyReads: boolean;
  /** `allow_audit_log_prefixing = true`: audit devices may take a `prefix` (off by default, as Vault ≥ 1.20.1). */
  allowAuditLogPrefixing: boolean;
  /** Top-level `default_lease_ttl` / `max_lease_ttl` in seconds (768h each when absent): token TTLs, mount defaults and caps. */
  leaseTtls?: { defaultSeconds: number; maxSeconds: number };
  /** The `telemetry` stanza, when there is one. */
  telemetry?: TelemetryConfig;
  /** `seal` stanzas; absent means Vault's default, the Shamir seal. At most one is enabled. */
  seals?: SealStanza[];
  /** The files the configuration was read from, for messages. */
  files: string[];
  /** Non-fatal findings (unknown keys, guessed addresses) for the server to log at startup. */
  warnings: string[];
}

/** A configuration problem. The message names the file, the key and what is allowed. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** A `seal "<type>"` stanza, with the environment already applied as Vault applies it. */
export interface SealStanza {
  /** "shamir" or "awskms". */
  type: string;
  /** `disabled = "true"`: the seal the data is migrating away from (`operator unseal -migrate`). */
  disabled: boolean;
  /** The stanza's keys as strings, env-resolved; `disabled` is not among them. */
  options: Record<string, string>;
  /** The file that defined it, for messages. */
  file: string;
}
