/**
 * What the lease lock (src/physical/lease.ts) promises, on virtual time: the algorithm does not
 * depend on where the record lives, so its timing cases run once, over an in-memory record store,
 * and each real store's test checks its own conditional writes and fencing
 * (lease-store-conformance.ts, fenced-writes.ts). Every node gets its own skewable, pausable clock
 * and its own fault switch for its path to storage. After every step of virtual time the suite
 * asks every node whether it holds the lock (`held()`): two nodes believing so at once fails the test.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Clock, type HABackend, type LockHold, LockLostError, monotonicClock } from "../../src/physical/ha.js";
import { InmemHABackend } from "../../src/physical/inmem-ha.js";
import type { HATimings, LockLeaseStore } from "../../src/physical/lease.js";
import { VirtualTime } from "../helpers/virtual-time.js";

/**
 * What a node's path to storage does, switchable at runtime (test/helpers/fault-proxy.ts does the
 * same to real connections): pass; delay each direction; swallow requests unanswered; fail them at once.
 */
export type StorageFault = "pass" | "blackhole" | "reset" | { delayMs: number };

/** A fixed skew on `base` time; its sleeps can be held (a paused process) and are counted. */
export class TestClock implements Clock {
  completedSleeps = 0;
  #pause: { promise: Promise<void>; resume: () => void } | null = null;

  constructor(
    private readonly skewMs: number,
    private readonly base: Clock = monotonicClock,
  ) {}

  now(): number {
    return this.base.now() + this.skewMs;
  }

  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    await this.base.sleep(ms, signal);
    while (this.#pause) {
      const { promise } = this.#pause;
      await new Promise<void>((resolve, reject) => {
        promise.then(resolve);
        signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
      });
    }
    this.completedSleeps++;
  }

  pause(): void {
    let resume!: () => void;
    const promise = new Promise<void>((resolve) => (resume = resolve));
    this.#pause = { promise, resume };
  }

  resume(): void {
    const pause = this.#pause;
    this.#pause = null;
    pause?.resume();
  }
}

interface TestNode {
  name: string;
  clock: TestClock;
  setFault(fault: StorageFault): void;
  backend: HABackend;
  holds: LockHold[];
  /** Acquires, checking at once that no other node still believes it holds the lock. */
  acquire(signal?: AbortSignal): Promise<LockHold>;
  /** Stops dead: no more timers, no more storage traffic. */
  crash(): void;
}

/** The suite, on inmem_ha stores (a new one per test) with `timings`. */
export function lockConformance(timings: HATimings): void {
  const { leaseMs: LEASE_MS, renewIntervalMs: RENEW_MS } = timings;

  describe(`lease lock on virtual time (inmem_ha, lease ${LEASE_MS} ms)`, () => {
    let time: VirtualTime;
    let store: InmemHABackend;
    let nodes: TestNode[] = [];
    let violations: string[] = [];
    let cleanupAbort = new AbortController();
    const lockKey = "core/lock";

    const believers = () => nodes.filter((node) => node.holds.some((hold) => hold.held())).map((node) => node.name);

    beforeEach(() => {
      time = new VirtualTime();
      store = new InmemHABackend(timings);
      time.afterEachStep(() => {
        const holding = believers();
        if (holding.length > 1) violations.push(`${holding.join(" and ")} held at once`);
      });
    });

    /** When `hold` reported itself lost, in virtual time. */
    const lostAt = (hold: LockHold): Promise<number> =>
      new Promise((resolve) => {
        if (hold.lost.aborted) return resolve(time.now());
        hold.lost.addEventListener("abort", () => resolve(time.now()), { once: true });
      });

    function startNodes(skews: number[]): TestNode[] {
      const started = skews.map((skewMs, i) => {
        const clock = new TestClock(skewMs, time);
        let fault: StorageFault = "pass";
        const backend = store.node(clock, (leases) => faulty(leases, () => fault, time));
        const nodeName = `node${nodes.length + i}`;
        const lock = backend.lockWith(lockKey, JSON.stringify({ id: nodeName, api_addr: `https://${nodeName}:8200` }));
        const node: TestNode = {
          name: nodeName,
          clock,
          setFault: (next) => (fault = next),
          backend,
          holds: [],
          async acquire(signal = cleanupAbort.signal) {
            const hold = await lock.acquire(signal);
            const others = believers().filter((other) => other !== nodeName);
            if (others.length) violations.push(`${nodeName} acquired while ${others.join(", ")} still held`);
            node.holds.push(hold);
            return hold;
          },
          crash() {
            clock.pause();
            fault = "blackhole";
          },
        };
        return node;
      });
      nodes.push(...started);
      return started;
    }

    afterEach(async () => {
      cleanupAbort.abort(new Error("test over"));
      cleanupAbort = new AbortController();
      for (const node of nodes) {
        node.clock.resume();
        node.setFault("pass");
      }
      await time.until(Promise.all(nodes.flatMap((node) => node.holds.map((hold) => hold.release().catch(() => {})))));
      nodes = [];
      const seen = violations;
      violations = [];
      expect(seen).toEqual([]);
    });

    it("has one holder at a time and hands over within one poll of a release", async () => {
      const [a, b] = startNodes([0, 0]);
      const holdA = await time.until(a!.acquire());
      expect(holdA.epoch).toBe(1);
      expect(await time.until(a!.backend.currentHolder(lockKey))).toEqual({ value: JSON.stringify({ id: "node0", api_addr: "https://node0:8200" }), epoch: 1 });

      const contending = b!.acquire();
      // Renewals keep it held well past a lease.
      expect(await time.settledWithin(contending, 2 * LEASE_MS)).toBe("pending");
      expect(holdA.held()).toBe(true);

      const pollsBefore = b!.clock.completedSleeps;
      await time.until(holdA.release());
      expect(holdA.held()).toBe(false);
      expect(holdA.lost.reason).toBeInstanceOf(LockLostError);
      const holdB = await time.until(contending);
      // The poll under way when the release was sent may still read the held record (its read can
      // start before the release lands); the next one claims. Waiting out a lease would take many polls.
      expect(b!.clock.completedSleeps - pollsBefore).toBeLessThanOrEqual(2);
      expect(holdB.epoch).toBe(2);
      expect((await time.until(b!.backend.currentHolder(lockKey)))?.epoch).toBe(2);

      await time.until(holdB.release());
      expect(await time.until(b!.backend.currentHolder(lockKey))).toBeNull();
    });

    it("ignores clock skew of ±30 s: takeover only after a full lease unrenewed", async () => {
      const [a, b, c] = startNodes([30_000, -30_000, 0]);
      const holdA = await time.until(a!.acquire());
      const attemptB = b!.acquire();
      const attemptC = c!.acquire();
      expect(await time.settledWithin(Promise.race([attemptB, attemptC]), 2 * LEASE_MS)).toBe("pending");

      expect(holdA.held()).toBe(true);
      const crashedAt = time.now();
      a!.crash();
      const next = await time.until(Promise.race([attemptB, attemptC]));
      // A held at the crash, so its last renewal went out less than its deadline (2/3 lease) before.
      expect(time.now() - crashedAt).toBeGreaterThanOrEqual(LEASE_MS / 3);
      expect(holdA.held()).toBe(false);
      expect(next.epoch).toBe(2);

      await time.until(next.release());
      const last = await time.until(b!.holds.includes(next) ? attemptC : attemptB);
      expect(last.epoch).toBe(3);
    });

    it("a paused holder already considers itself lost when it resumes", async () => {
      const [a, b] = startNodes([0, 0]);
      const holdA = await time.until(a!.acquire());
      const contending = b!.acquire();
      a!.clock.pause(); // no timers fire on A: no renewals, no deadline timer
      const holdB = await time.until(contending);
      expect(holdA.held()).toBe(false);
      expect(holdA.lost.aborted).toBe(true);

      a!.clock.resume();
      // A's renewal loop wakes up late; it must not take the record back from B.
      await time.advance(LEASE_MS + 3 * RENEW_MS);
      expect(holdA.held()).toBe(false);
      expect(holdB.held()).toBe(true);
      expect(await time.until(b!.backend.currentHolder(lockKey))).toMatchObject({ epoch: holdB.epoch });
    });

    for (const [fault, mode] of [
      ["dropped renewals (blackhole)", "blackhole"],
      ["storage errors (connection resets)", "reset"],
      ["storage slower than the lease", { delayMs: 2 * LEASE_MS }],
    ] as const) {
      it(`under ${fault}, the holder gives up before anyone takes over`, async () => {
        const [a, b] = startNodes([0, 0]);
        const holdA = await time.until(a!.acquire());
        const lost = lostAt(holdA);
        const contending = b!.acquire();
        a!.setFault(mode);
        const holdB = await time.until(contending);
        const acquiredAt = time.now();
        expect(holdA.lost.aborted).toBe(true);
        expect(await lost).toBeLessThan(acquiredAt);
        expect((holdA.lost.reason as Error).message).toMatch(/deadline/);
        expect(holdB.epoch).toBe(holdA.epoch + 1);
      });
    }

    it("rides out a hiccup shorter than the renewal deadline", async () => {
      const [a] = startNodes([0]);
      const holdA = await time.until(a!.acquire());
      a!.setFault("blackhole");
      await time.advance(RENEW_MS);
      a!.setFault("pass");
      await time.advance(2 * LEASE_MS);
      expect(holdA.held()).toBe(true);
    });

    it("gives exactly one of several racing contenders a free lock", async () => {
      const started = startNodes([0, 5_000, -5_000]);
      const attempts = started.map((node) => node.acquire());
      const winner = await time.until(Promise.race(attempts));
      expect(winner.epoch).toBe(1);
      expect(await time.settledWithin(Promise.all(attempts), 2 * LEASE_MS)).toBe("pending");
      expect(believers()).toHaveLength(1);
    });

    it("increases the epoch with every acquisition, across releases and takeovers", async () => {
      const [a, b] = startNodes([0, 0]);
      const epochs: number[] = [];
      for (const node of [a!, b!, a!]) {
        const hold = await time.until(node.acquire());
        epochs.push(hold.epoch);
        await time.until(hold.release());
      }
      const held = await time.until(b!.acquire());
      epochs.push(held.epoch);
      b!.crash();
      epochs.push((await time.until(a!.acquire())).epoch);
      expect(epochs).toEqual([1, 2, 3, 4, 5]);
    });
  });
}

/** `leases` behind what a network would do to it in `fault()`'s mode, on `time`. */
function faulty(leases: LockLeaseStore, fault: () => StorageFault, time: Clock): LockLeaseStore {
  const through =
    <A extends unknown[], R>(operation: (...args: [...A, AbortSignal]) => Promise<R>) =>
    async (...args: [...A, AbortSignal]): Promise<R> => {
      const signal = args[args.length - 1] as AbortSignal;
      const mode = fault();
      if (mode === "reset") throw new Error("connection reset");
      if (mode === "blackhole") return unanswered(signal);
      if (mode === "pass") return operation(...args);
      await time.sleep(mode.delayMs, signal);
      const result = await operation(...args);
      await time.sleep(mode.delayMs, signal);
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
