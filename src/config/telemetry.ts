import { requireDurationMs } from "./duration.js";
import { ConfigError, type TelemetryConfig } from "./types.js";
import { describe, isObject, requireBool } from "./values.js";

/** Vault's default `prometheus_retention_time`. */
export const DEFAULT_PROMETHEUS_RETENTION_MS = 24 * 3_600_000;

/** Vault telemetry keys for sinks Strongbox does not have (statsd, circonus, …): accepted and ignored. */
const VAULT_TELEMETRY_KEYS_NOT_USED =
  /^(statsd_|statsite_|dogstatsd_|circonus_|stackdriver_|usage_gauge_period|maximum_gauge_cardinality|enable_hostname_label|lease_metrics_epsilon|num_lease_metrics_buckets|add_lease_metrics_namespace_labels|filter_default|prefix_filter|metrics_prefix|add_mount_point_rollback_metrics)/;

/** A `telemetry { ... }` stanza: HCL gives a list of one object, JSON may give the object. */
function stanzaBody(value: unknown, at: string): Record<string, unknown> {
  const body = Array.isArray(value) && value.length === 1 ? value[0] : value;
  if (!isObject(body)) throw new ConfigError(`${at} must be a block (telemetry { ... }), got ${describe(value)}`);
  return body;
}

/** The top-level `telemetry` stanza. */
export function parseTelemetry(value: unknown, at: string, warnings: string[]): TelemetryConfig {
  const telemetry: TelemetryConfig = { prometheusRetentionMs: DEFAULT_PROMETHEUS_RETENTION_MS, disableHostname: false };
  for (const [key, item] of Object.entries(stanzaBody(value, at))) {
    const keyAt = `${at}: "${key}"`;
    if (key === "prometheus_retention_time") telemetry.prometheusRetentionMs = requireDurationMs(item, keyAt);
    else if (key === "disable_hostname") telemetry.disableHostname = requireBool(item, keyAt);
    else if (VAULT_TELEMETRY_KEYS_NOT_USED.test(key)) warnings.push(`${keyAt} is a Vault telemetry setting Strongbox does not use; ignored`);
    else throw new ConfigError(`${keyAt} is not a telemetry setting (allowed: prometheus_retention_time, disable_hostname)`);
  }
  return telemetry;
}

/** A listener's `telemetry` stanza: whether sys/metrics needs no token on that listener. */
export function parseListenerTelemetry(value: unknown, at: string): boolean {
  let unauthenticated = false;
  for (const [key, item] of Object.entries(stanzaBody(value, at))) {
    if (key !== "unauthenticated_metrics_access")
      throw new ConfigError(`${at}: "${key}" is not a listener telemetry setting (allowed: unauthenticated_metrics_access)`);
    unauthenticated = requireBool(item, `${at}: "${key}"`);
  }
  return unauthenticated;
}
