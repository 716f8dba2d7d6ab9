/**
 * What every HA store's lock promises (src/physical/ha.ts), as one suite each store runs with its
 * own node factory. Every node gets its own skewable, pausable clock and its own fault switch for
 * its path to storage. A monitor samples every node's belief (`held()`) all along: two nodes
 * believing they hold the lock at once fails the test.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  type Clock,
  type HABackend,
  type LockHold,
  type LockTimings,
  LockLostError,
  monotonicClock,
} from "../../src/physical/ha.js";

/**
 * What a node's path to storage does, switchable at runtime (test/helpers/fault-proxy.ts has the
 * same modes): pass; delay each direction; swallow requests unanswered; fail them at once.
 */
export type StorageFault = "pass" | "blackhole" | "reset" | { delayMs: number };

/** One node's fault setting; the store's factory applies it to that node's storage traffic. */
export class FaultSwitch {
  #mode: StorageFault = "pass";
  readonly #listeners: ((mode: StorageFault) => void)[] = [];

  get mode(): StorageFault {
    return this.#mode;
  }

  set(mode: StorageFault): void {
    this.#mode = mode;
    for (const listener of this.#listeners) listener(mode);
  }

  onChange(listener: (mode: StorageFault) => void): void {
    this.#listeners.push(listener);
  }
}

/** Real time plus a fixed skew; its sleeps can be held (a paused process) and are counted. */
export class TestClock implements Clock {
  completedSleeps = 0;
  #pause: { promise: Promise<void>; resume: () => void } | null = null;

  constructor(private readonly skewMs: number) {}

  now(): number {
    return performance.now() + this.skewMs;
  }

  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    await monotonicClock.sleep(ms, signal);
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

/**
 * A new node on the store under test: its lock operations run on `clock` with `timings`, and its
 * storage traffic obeys `faults`. Nodes created within one test share the store.
 */
export type LockNodeFactory = (clock: Clock, timings: LockTimings, faults: FaultSwitch) => Promise<HABackend>;

export interface LockConformanceOptions {
  /** Long enough that a renewal round survives a loaded CI machine running the store beside the tests. */
  timings: LockTimings;
}

interface TestNode {
  name: string;
  clock: TestClock;
  faults: FaultSwitch;
  backend: HABackend;
  holds: LockHold[];
  /** Acquires, checking at once that no other node still believes it holds the lock. */
  acquire(signal?: AbortSignal): Promise<LockHold>;
  /** Stops dead: no more timers, no more storage traffic. */
  crash(): void;
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves with how `promise` settled, or "pending" if it has not after `ms`. */
function settledWithin<T>(promise: Promise<T>, ms: number): Promise<"resolved" | "rejected" | "pending"> {
  return Promise.race([
    promise.then(
      () => "resolved" as const,
      () => "rejected" as const,
    ),
    new Promise<"pending">((resolve) => setTimeout(() => resolve("pending"), ms)),
  ]);
}

/** When `hold` reported itself lost, in real time (performance.now()). */
function lostAt(hold: LockHold): Promise<number> {
  return new Promise((resolve) => {
    if (hold.lost.aborted) return resolve(performance.now());
    hold.lost.addEventListener("abort", () => resolve(performance.now()), { once: true });
  });
}

export function lockConformance(name: string, createNode: LockNodeFactory, { timings }: LockConformanceOptions): void {
  const { leaseMs: LEASE_MS, renewIntervalMs: RENEW_MS } = timings;

  describe(`${name} HA lock`, () => {
    let nodes: TestNode[] = [];
    let violations: string[] = [];
    let monitor: ReturnType<typeof setInterval> | undefined;
    let cleanupAbort = new AbortController();
    // A key of its own per test, so a store can be shared across tests without leftovers.
    let lockKey = "";

    const believers = () => nodes.filter((node) => node.holds.some((hold) => hold.held())).map((node) => node.name);

    async function startNodes(skews: number[]): Promise<TestNode[]> {
      lockKey ||= `core/lock-${crypto.randomUUID()}`;
      const started = await Promise.all(
        skews.map(async (skewMs, i) => {
          const clock = new TestClock(skewMs);
          const faults = new FaultSwitch();
          const backend = await createNode(clock, timings, faults);
          const nodeName = `node${nodes.length + i}`;
          const lock = backend.lockWith(lockKey, JSON.stringify({ id: nodeName, api_addr: `https://${nodeName}:8200` }));
          const node: TestNode = {
            name: nodeName,
            clock,
            faults,
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
              faults.set("blackhole");
            },
          };
          return node;
        }),
      );
      nodes.push(...started);
      monitor ??= setInterval(() => {
        const holding = believers();
        if (holding.length > 1) violations.push(`${holding.join(" and ")} held at once`);
      }, 2);
      return started;
    }

    afterEach(async () => {
      clearInterval(monitor);
      monitor = undefined;
      cleanupAbort.abort(new Error("test over"));
      cleanupAbort = new AbortController();
      for (const node of nodes) {
        node.clock.resume();
        node.faults.set("pass");
      }
      await Promise.all(nodes.flatMap((node) => node.holds.map((hold) => hold.release().catch(() => {}))));
      nodes = [];
      lockKey = "";
      const seen = violations;
      violations = [];
      expect(seen).toEqual([]);
    });

    it("has one holder at a time and hands over within one poll of a release", async () => {
      const [a, b] = await startNodes([0, 0]);
      const holdA = await a!.acquire();
      expect(holdA.epoch).toBe(1);
      expect(await a!.backend.currentHolder(lockKey)).toEqual({ value: JSON.stringify({ id: "node0", api_addr: "https://node0:8200" }), epoch: 1 });

      const contending = b!.acquire();
      // Renewals keep it held well past a lease.
      expect(await settledWithin(contending, 2 * LEASE_MS)).toBe("pending");
      expect(holdA.held()).toBe(true);

      const pollsBefore = b!.clock.completedSleeps;
      await holdA.release();
      expect(holdA.held()).toBe(false);
      expect(holdA.lost.reason).toBeInstanceOf(LockLostError);
      const holdB = await contending;
      // The poll under way when the release was sent may still read the held record (its read can
      // start before the release lands); the next one claims. Waiting out a lease would take ~16 polls.
      expect(b!.clock.completedSleeps - pollsBefore).toBeLessThanOrEqual(2);
      expect(holdB.epoch).toBe(2);
      expect((await b!.backend.currentHolder(lockKey))?.epoch).toBe(2);

      await holdB.release();
      expect(await b!.backend.currentHolder(lockKey)).toBeNull();
    });

    it("ignores clock skew of ±30 s: takeover only after a full lease unrenewed", async () => {
      const [a, b, c] = await startNodes([30_000, -30_000, 0]);
      const holdA = await a!.acquire();
      const attemptB = b!.acquire();
      const attemptC = c!.acquire();
      expect(await settledWithin(Promise.race([attemptB, attemptC]), 2 * LEASE_MS)).toBe("pending");

      expect(holdA.held()).toBe(true);
      const crashedAt = performance.now();
      a!.crash();
      const next = await Promise.race([attemptB, attemptC]);
      // A held at the crash, so its last renewal went out less than its deadline (2/3 lease) before.
      expect(performance.now() - crashedAt).toBeGreaterThanOrEqual(LEASE_MS / 3);
      expect(holdA.held()).toBe(false);
      expect(next.epoch).toBe(2);

      await next.release();
      const last = await (b!.holds.includes(next) ? attemptC : attemptB);
      expect(last.epoch).toBe(3);
    });

    it("a paused holder already considers itself lost when it resumes", async () => {
      const [a, b] = await startNodes([0, 0]);
      const holdA = await a!.acquire();
      const contending = b!.acquire();
      a!.clock.pause(); // no timers fire on A: no renewals, no deadline timer
      const holdB = await contending;
      expect(holdA.held()).toBe(false);
      expect(holdA.lost.aborted).toBe(true);

      a!.clock.resume();
      // A's renewal loop wakes up late; it must not take the record back from B.
      await delay(LEASE_MS + 3 * RENEW_MS);
      expect(holdA.held()).toBe(false);
      expect(holdB.held()).toBe(true);
      expect(await b!.backend.currentHolder(lockKey)).toMatchObject({ epoch: holdB.epoch });
    });

    for (const [fault, mode] of [
      ["dropped renewals (blackhole)", "blackhole"],
      ["storage errors (connection resets)", "reset"],
      ["storage slower than the lease", { delayMs: 2 * LEASE_MS }],
    ] as const) {
      it(`under ${fault}, the holder gives up before anyone takes over`, async () => {
        const [a, b] = await startNodes([0, 0]);
        const holdA = await a!.acquire();
        const lost = lostAt(holdA);
        const contending = b!.acquire();
        a!.faults.set(mode);
        const holdB = await contending;
        const acquiredAt = performance.now();
        expect(holdA.lost.aborted).toBe(true);
        expect(await lost).toBeLessThan(acquiredAt);
        expect((holdA.lost.reason as Error).message).toMatch(/deadline/);
        expect(holdB.epoch).toBe(holdA.epoch + 1);
      });
    }

    it("rides out a hiccup shorter than the renewal deadline", async () => {
      const [a] = await startNodes([0]);
      const holdA = await a!.acquire();
      a!.faults.set("blackhole");
      await delay(RENEW_MS);
      a!.faults.set("pass");
      await delay(2 * LEASE_MS);
      expect(holdA.held()).toBe(true);
    });

    it("gives exactly one of several racing contenders a free lock", async () => {
      const started = await startNodes([0, 5_000, -5_000]);
      const attempts = started.map((node) => node.acquire());
      const winner = await Promise.race(attempts);
      expect(winner.epoch).toBe(1);
      expect(await settledWithin(Promise.all(attempts), 2 * LEASE_MS)).toBe("pending");
      expect(believers()).toHaveLength(1);
    });

    it("increases the epoch with every acquisition, across releases and takeovers", async () => {
      const [a, b] = await startNodes([0, 0]);
      const epochs: number[] = [];
      for (const node of [a!, b!, a!]) {
        const hold = await node.acquire();
        epochs.push(hold.epoch);
        await hold.release();
      }
      const held = await b!.acquire();
      epochs.push(held.epoch);
      b!.crash();
      epochs.push((await a!.acquire()).epoch);
      expect(epochs).toEqual([1, 2, 3, 4, 5]);
    });
  });
}
