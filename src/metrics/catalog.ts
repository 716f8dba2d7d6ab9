/**
 * Every metric a node reports: Prometheus name (Vault's where Vault has one), kind, help, label
 * names, and the dotted name of Vault's JSON format. Timings are in milliseconds, as Vault's.
 */
export const METRIC_CATALOG = {
  vault_core_handle_request: {
    kind: "summary",
    vault: "vault.core.handle_request",
    help: "Requests handled by this node as active (ms), by operation and mount",
    labels: ["operation", "mount"],
  },
  vault_core_active: { kind: "gauge", vault: "vault.core.active", help: "1 when this node is the active node", labels: [] },
  vault_core_standby: { kind: "gauge", vault: "vault.core.standby", help: "1 when this node is an unsealed standby", labels: [] },
  vault_core_unsealed: { kind: "gauge", vault: "vault.core.unsealed", help: "1 when this node is unsealed", labels: [] },
  vault_audit_log_request_failure: {
    kind: "counter",
    vault: "vault.audit.log_request_failure",
    help: "Request entries no audit device took (the request was refused)",
    labels: [],
  },
  vault_audit_log_response_failure: { kind: "counter", vault: "vault.audit.log_response_failure", help: "Response entries no audit device took", labels: [] },
  strongbox_ha_lock_acquisitions_total: {
    kind: "counter",
    vault: "strongbox.ha.lock_acquisitions",
    help: "Times this node took the HA lock and became active",
    labels: [],
  },
  strongbox_ha_lock_losses_total: {
    kind: "counter",
    vault: "strongbox.ha.lock_losses",
    help: "Times this node stopped being active (lost the lock, stepped down or sealed)",
    labels: [],
  },
  strongbox_ha_lock_renewal: {
    kind: "summary",
    vault: "strongbox.ha.lock_renewal",
    help: "HA lock renewals by this node as active (ms), from the round's first attempt to its success",
    labels: [],
  },
  strongbox_ha_lock_renewal_slowest_ms: {
    kind: "gauge",
    vault: "strongbox.ha.lock_renewal_slowest",
    help: "The slowest HA lock renewal of this node's current (or last) term as active (ms)",
    labels: [],
  },
  strongbox_ha_lock_renewal_margin_min_ms: {
    kind: "gauge",
    vault: "strongbox.ha.lock_renewal_margin_min",
    help: "The least time left before the renewal deadline when a renewal succeeded, in this node's current (or last) term (ms); at 0 the term ends",
    labels: [],
  },
  strongbox_ha_last_takeover_ms: {
    kind: "gauge",
    vault: "strongbox.ha.last_takeover",
    help: "How long this node's last takeover took, from holding the lock to serving as active (ms)",
    labels: [],
  },
  strongbox_ha_forwarded_requests_total: {
    kind: "counter",
    vault: "strongbox.ha.forwarded_requests",
    help: "Requests this standby forwarded to the active node",
    labels: [],
  },
  strongbox_ha_forwarding_fallbacks_total: {
    kind: "counter",
    vault: "strongbox.ha.forwarding_fallbacks",
    help: "Requests this standby could not forward and redirected (307) instead",
    labels: [],
  },
  strongbox_ha_standby_held_requests_total: {
    kind: "counter",
    vault: "strongbox.ha.standby_held_requests",
    help: "Requests this standby held while no active node was known (a hand-over), until one was or the hold ran out",
    labels: [],
  },
  strongbox_ha_standby_hold_seconds_total: {
    kind: "counter",
    vault: "strongbox.ha.standby_hold_seconds",
    help: "Seconds requests spent held by this standby while no active node was known, summed",
    labels: [],
  },
  strongbox_ha_standby_holding_requests: {
    kind: "gauge",
    vault: "strongbox.ha.standby_holding_requests",
    help: "Requests this standby is holding now, waiting for an active node",
    labels: [],
  },
  strongbox_ha_standby_heartbeat_age_seconds: {
    kind: "gauge",
    vault: "strongbox.ha.standby_heartbeat_age",
    help: "Seconds since the active node last heard from each standby",
    labels: ["node_id", "hostname"],
  },
  strongbox_storage_operation: {
    kind: "summary",
    vault: "strongbox.storage.operation",
    help: "Physical storage operations (ms), by backend and operation",
    labels: ["backend", "operation"],
  },
  strongbox_storage_errors_total: {
    kind: "counter",
    vault: "strongbox.storage.errors",
    help: "Physical storage operations that failed, by backend and operation",
    labels: ["backend", "operation"],
  },
  vault_cache_hit: { kind: "counter", vault: "vault.cache.hit", help: "Storage reads the active node's cache answered", labels: [] },
  vault_cache_miss: { kind: "counter", vault: "vault.cache.miss", help: "Storage reads the active node's cache could not answer", labels: [] },
  strongbox_login_failures_total: { kind: "counter", vault: "strongbox.login.failures", help: "Failed logins, by auth mount", labels: ["mount"] },
  strongbox_login_lockouts_total: {
    kind: "counter",
    vault: "strongbox.login.lockouts",
    help: "Logins refused because the user is locked out, by auth mount",
    labels: ["mount"],
  },
} as const;

export type MetricName = keyof typeof METRIC_CATALOG;
type OfKind<K extends string> = { [N in MetricName]: (typeof METRIC_CATALOG)[N]["kind"] extends K ? N : never }[MetricName];
export type CounterName = OfKind<"counter">;
export type GaugeName = OfKind<"gauge">;
export type SummaryName = OfKind<"summary">;
