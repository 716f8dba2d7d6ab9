import type { Metrics } from "./metrics.js";

/** What the gauges read of a node (the core provides it; metrics/ sits below it). */
export interface NodeStatus {
  readonly sealed: boolean;
  isActive(): boolean;
  readonly leadership: {
    forwarding: { forwarded: number; fallbacks: number; held: number; heldMs: number; holding: number };
    heartbeatAges(): { nodeId: string; hostname: string; ageMs: number }[];
  } | null;
}

/** The node's state as gauges, read when metrics are scraped (they change without a request). */
export function recordNodeState(core: NodeStatus, metrics: Metrics): void {
  const active = core.isActive();
  metrics.setGauge("vault_core_unsealed", core.sealed ? 0 : 1);
  metrics.setGauge("vault_core_active", active ? 1 : 0);
  metrics.setGauge("vault_core_standby", !core.sealed && !active ? 1 : 0);
  const leadership = core.leadership;
  if (!leadership) return;
  metrics.setCount("strongbox_ha_forwarded_requests_total", leadership.forwarding.forwarded);
  metrics.setCount("strongbox_ha_forwarding_fallbacks_total", leadership.forwarding.fallbacks);
  metrics.setCount("strongbox_ha_standby_held_requests_total", leadership.forwarding.held);
  metrics.setCount("strongbox_ha_standby_hold_seconds_total", leadership.forwarding.heldMs / 1000);
  metrics.setGauge("strongbox_ha_standby_holding_requests", leadership.forwarding.holding);
  metrics.clearGauge("strongbox_ha_standby_heartbeat_age_seconds");
  if (!active) return;
  for (const { nodeId, hostname, ageMs } of leadership.heartbeatAges()) {
    metrics.setGauge("strongbox_ha_standby_heartbeat_age_seconds", ageMs / 1000, { node_id: nodeId, hostname });
  }
}
