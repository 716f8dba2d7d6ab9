import { VERSION } from "../sdk/version.js";

/**
 * Vault's sys/health and sys/leader bodies, shared by the nodes and the edge Worker (which answers
 * both from the lock record), so the two never drift apart.
 */
export function healthBody(state: {
  initialized: boolean;
  sealed: boolean;
  standby: boolean;
  performanceStandby: boolean;
  clusterId: string;
}): Record<string, unknown> {
  return {
    initialized: state.initialized,
    sealed: state.sealed,
    standby: state.standby,
    performance_standby: state.performanceStandby,
    replication_performance_mode: "disabled",
    replication_dr_mode: "disabled",
    server_time_utc: Math.floor(Date.now() / 1000),
    version: VERSION,
    enterprise: false,
    cluster_name: "strongbox",
    cluster_id: state.clusterId,
    echo_duration_ms: 0,
    clock_skew_ms: 0,
  };
}

/** Vault's placeholder for "never active" (Go's zero time). */
export const NEVER_ACTIVE = "0001-01-01T00:00:00Z";

export function leaderBody(view: {
  haEnabled: boolean;
  isSelf: boolean;
  activeTime: string;
  leaderAddress: string;
  leaderClusterAddress: string;
  performanceStandby: boolean;
}): Record<string, unknown> {
  return {
    ha_enabled: view.haEnabled,
    is_self: view.isSelf,
    active_time: view.activeTime,
    leader_address: view.leaderAddress,
    leader_cluster_address: view.leaderClusterAddress,
    performance_standby: view.performanceStandby,
    performance_standby_last_remote_wal: 0,
  };
}

/** Whether two URLs name the same host and port: a redirect from one to the other would loop. */
export function sameHostAndPort(a: URL, b: URL): boolean {
  const port = (u: URL) => u.port || (u.protocol === "https:" ? "443" : "80");
  return a.hostname.toLowerCase() === b.hostname.toLowerCase() && port(a) === port(b);
}
