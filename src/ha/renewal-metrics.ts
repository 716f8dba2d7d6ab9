import type { Metrics } from "../metrics/metrics.js";
import type { LockRenewal } from "../physical/ha.js";

/**
 * Records one term's lock renewals: each latency into the summary, and the term's slowest renewal
 * and smallest margin as gauges. Per term, so a new term does not inherit an old term's worst.
 */
export function termRenewalRecorder(metrics: Metrics): (renewal: LockRenewal) => void {
  let slowestMs = -Infinity;
  let smallestMarginMs = Infinity;
  return ({ latencyMs, marginMs }) => {
    metrics.observeMs("strongbox_ha_lock_renewal", latencyMs);
    if (latencyMs > slowestMs) {
      slowestMs = latencyMs;
      metrics.setGauge("strongbox_ha_lock_renewal_slowest_ms", Math.round(latencyMs * 10) / 10);
    }
    if (marginMs < smallestMarginMs) {
      smallestMarginMs = marginMs;
      metrics.setGauge("strongbox_ha_lock_renewal_margin_min_ms", Math.round(marginMs * 10) / 10);
    }
  };
}
