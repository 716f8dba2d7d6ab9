/**
 * A holder that learns only after its renewal deadline that another node took the lock (the answer
 * came late) says how long ago its hold ended: its log must not claim a term longer than it was.
 */
import { expect, it } from "vitest";
import { type Clock, LockLostError, monotonicClock } from "../../src/physical/ha.js";
import { type LockLeaseRecord, type LockLeaseStore, leaseLock } from "../../src/physical/lease.js";
import { waitFor } from "../helpers/cluster.js";

/** Real time, plus jumps the test makes (a process that was starved for that long). */
class JumpingClock implements Clock {
  offsetMs = 0;
  now(): number {
    return performance.now() + this.offsetMs;
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return monotonicClock.sleep(ms, signal);
  }
}

/** One record; renewals wait for the test to answer them, whatever their signal says (the answer is in flight). */
class SlowRenewStore implements LockLeaseStore {
  record: LockLeaseRecord | null = null;
  pendingRenewal: ((renewed: boolean) => void) | null = null;
  async read(): Promise<LockLeaseRecord | null> {
    return this.record;
  }
  async claim(record: { version: string; epoch: number; value: string }): Promise<boolean> {
    this.record = { ...record, released: false };
    return true;
  }
  renew(): Promise<boolean> {
    return new Promise((resolve) => (this.pendingRenewal = resolve));
  }
  async release(): Promise<boolean> {
    return true;
  }
}

it("a holder that notices a takeover after its deadline reports the deadline as the end of its hold", async () => {
  const store = new SlowRenewStore();
  const clock = new JumpingClock();
  const hold = await leaseLock(store, "a", { leaseMs: 1500, renewIntervalMs: 300, retryIntervalMs: 200 }, clock).acquire();
  await waitFor(async () => store.pendingRenewal, 5_000, "a renewal in flight");
  clock.offsetMs += 2_000; // past the 1 s deadline before the answer arrives
  store.pendingRenewal!(false);
  await waitFor(async () => (hold.lost.aborted ? true : null), 5_000, "the hold lost");
  expect(hold.lost.reason).toBeInstanceOf(LockLostError);
  const message = (hold.lost.reason as Error).message;
  expect(message).toMatch(/another node took the lock \(noticed after the renewal deadline, which passed \d+ ms ago\)/);
  // At least the jump minus the deadline left when the renewal was sent (≤ 1 s).
  expect(Number(/passed (\d+) ms ago/.exec(message)![1])).toBeGreaterThanOrEqual(1_000);
});
