/**
 * A lease hold reports each successful renewal: how long it took (retries included) and how much
 * time was left before its deadline, the figures strongbox_ha_lock_renewal* are made of.
 */
import { expect, it } from "vitest";
import { type LockRenewal, monotonicClock } from "../../src/physical/ha.js";
import { type LockLeaseRecord, type LockLeaseStore, leaseLock } from "../../src/physical/lease.js";
import { termRenewalRecorder } from "../../src/ha/renewal-metrics.js";
import type { Metrics } from "../../src/metrics/metrics.js";
import { waitFor } from "../helpers/cluster.js";

const TIMINGS = { leaseMs: 1500, renewIntervalMs: 300, retryIntervalMs: 50 };
const DEADLINE_MS = 1000;

/** One record; each renewal answers after `renewDelayMs`, and the first `failures` of them fail (unknown outcome). */
class DelayedStore implements LockLeaseStore {
  record: LockLeaseRecord | null = null;
  constructor(
    private readonly renewDelayMs: number,
    private failures = 0,
  ) {}
  async read(): Promise<LockLeaseRecord | null> {
    return this.record;
  }
  async claim(record: { version: string; epoch: number; value: string }): Promise<boolean> {
    this.record = { ...record, released: false };
    return true;
  }
  async renew(_expected: string[], next: string): Promise<boolean> {
    await monotonicClock.sleep(this.renewDelayMs);
    if (this.failures > 0) {
      this.failures--;
      throw new Error("connection reset");
    }
    this.record = { ...this.record!, version: next };
    return true;
  }
  async release(): Promise<boolean> {
    return true;
  }
}

async function renewals(store: DelayedStore, count: number): Promise<LockRenewal[]> {
  const hold = await leaseLock(store, "a", TIMINGS, monotonicClock).acquire();
  const seen: LockRenewal[] = [];
  hold.onRenewed?.((renewal) => seen.push(renewal));
  await waitFor(async () => (seen.length >= count ? true : null), 10_000, `${count} renewals`);
  await hold.release();
  return seen;
}

it("a renewal's latency is the store's answer time, and its margin what was left of the deadline", async () => {
  const [first, second] = await renewals(new DelayedStore(120), 2);
  for (const renewal of [first!, second!]) {
    expect(renewal.latencyMs).toBeGreaterThanOrEqual(119);
    // Sent one renew interval (or later) after the last success, answered `latency` after that.
    expect(renewal.marginMs).toBeLessThanOrEqual(DEADLINE_MS - TIMINGS.renewIntervalMs - renewal.latencyMs + 1);
    expect(renewal.marginMs).toBeGreaterThan(0);
  }
});

it("a round that needed retries counts them in its latency and its smaller margin", async () => {
  const [retried, clean] = await renewals(new DelayedStore(60, 2), 2);
  // Two failed attempts (60 ms each, then a 50 ms pause each) before the one that worked.
  expect(retried!.latencyMs).toBeGreaterThanOrEqual(3 * 60 + 2 * 50 - 1);
  expect(clean!.latencyMs).toBeLessThan(retried!.latencyMs);
  expect(retried!.marginMs).toBeLessThan(clean!.marginMs);
});

it("the term's recorder keeps the slowest renewal and the smallest margin as gauges, and every latency in the summary", () => {
  const gauges = new Map<string, number>();
  const observed: number[] = [];
  const metrics = {
    setGauge: (name: string, value: number) => gauges.set(name, value),
    observeMs: (_name: string, value: number) => observed.push(value),
  } as unknown as Metrics;
  const record = termRenewalRecorder(metrics);
  record({ latencyMs: 12.34, marginMs: 650 });
  record({ latencyMs: 80, marginMs: 410.26 });
  record({ latencyMs: 20, marginMs: 690 });
  expect(observed).toEqual([12.34, 80, 20]);
  expect(gauges.get("strongbox_ha_lock_renewal_slowest_ms")).toBe(80);
  expect(gauges.get("strongbox_ha_lock_renewal_margin_min_ms")).toBe(410.3);
  // A new term starts from nothing.
  termRenewalRecorder(metrics)({ latencyMs: 5, marginMs: 695 });
  expect(gauges.get("strongbox_ha_lock_renewal_slowest_ms")).toBe(5);
  expect(gauges.get("strongbox_ha_lock_renewal_margin_min_ms")).toBe(695);
});
