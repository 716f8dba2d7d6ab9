import { monotonicClock } from "../../src/physical/ha.js";
import { InmemHABackend } from "../../src/physical/inmem-ha.js";
import type { LockLeaseStore } from "../../src/physical/lease.js";
import { describeConformance } from "./conformance.js";
import { type FaultSwitch, lockConformance } from "./lock-conformance.js";

describeConformance("inmem_ha", { create: async () => new InmemHABackend() });

// Short, but a renewal round (two thirds of the lease) still outlasts a busy 2-core machine's hiccups.
const timings = { leaseMs: 1200, renewIntervalMs: 150, retryIntervalMs: 75 };
// One store for the file; the suite gives each test its own lock key.
const store = new InmemHABackend({ ...timings, stepDownCooldownMs: 10_000 });

lockConformance("inmem_ha", async (clock, _timings, faults) => store.node(clock, (leases) => faulty(leases, faults)), { timings });

/** `leases` behind what a network would do to it in `faults.mode`. */
function faulty(leases: LockLeaseStore, faults: FaultSwitch): LockLeaseStore {
  const through =
    <A extends unknown[], R>(operation: (...args: [...A, AbortSignal]) => Promise<R>) =>
    async (...args: [...A, AbortSignal]): Promise<R> => {
      const signal = args[args.length - 1] as AbortSignal;
      const mode = faults.mode;
      if (mode === "reset") throw new Error("connection reset");
      if (mode === "blackhole") return unanswered(signal);
      if (mode === "pass") return operation(...args);
      await monotonicClock.sleep(mode.delayMs, signal);
      const result = await operation(...args);
      await monotonicClock.sleep(mode.delayMs, signal);
      return result;
    };
  return {
    read: through(leases.read.bind(leases)),
    claim: through(leases.claim.bind(leases)),
    renew: through(leases.renew.bind(leases)),
    release: through(leases.release.bind(leases)),
  };
}

/** Never settles unless aborted, like a request into a black hole. */
function unanswered(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) return reject(signal.reason);
    signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}
