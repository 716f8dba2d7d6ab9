/**
 * The HA lock against DynamoDB Local. Each node has its own skewable, pausable clock and its own
 * fault proxy in front of DynamoDB. A monitor samples every node's belief (`held()`) all along:
 * two nodes believing they hold the lock at once fails the test.
 */
import { afterEach, describe, expect, inject, it } from "vitest";
import { type DynamoDBBackend, createDynamoDBBackend } from "../../src/physical/dynamodb.js";
import {
  type Clock,
  type LockHold,
  FencedError,
  LockLostError,
  isHABackend,
  monotonicClock,
} from "../../src/physical/ha.js";
import { type FaultProxy, startFaultProxy } from "../helpers/fault-proxy.js";

const dynamodbEndpoint = inject("dynamodbEndpoint");
// Roomy enough that a renewal round (deadline: 2/3 of the lease) survives a loaded 2-core CI
// machine running DynamoDB Local and node processes beside these tests.
const LEASE_MS = 2400;
const RENEW_MS = 300;
const POLL_MS = 150;
const LOCK_KEY = "core/lock";

/** Real time plus a fixed skew; its sleeps can be held (a paused process) and are counted. */
class TestClock implements Clock {
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

interface TestNode {
  name: string;
  clock: TestClock;
  proxy: FaultProxy;
  backend: DynamoDBBackend;
  holds: LockHold[];
  /** Acquires, checking at once that no other node still believes it holds the lock. */
  acquire(signal?: AbortSignal): Promise<LockHold>;
  /** Stops dead: no more timers, no more network. */
  crash(): void;
}

let nodes: TestNode[] = [];
let violations: string[] = [];
let monitor: ReturnType<typeof setInterval> | undefined;
let cleanupAbort = new AbortController();

function believers(): string[] {
  return nodes.filter((node) => node.holds.some((hold) => hold.held())).map((node) => node.name);
}

async function startNodes(skews: number[], table = `lock-${crypto.randomUUID()}`): Promise<TestNode[]> {
  const started = await Promise.all(
    skews.map(async (skewMs, i) => {
      const clock = new TestClock(skewMs);
      const proxy = await startFaultProxy(dynamodbEndpoint);
      const options = {
        table,
        endpoint: proxy.endpoint,
        access_key: "test",
        secret_key: "test",
        ha_enabled: "true",
        ha_lease_duration: `${LEASE_MS}ms`,
        ha_renew_interval: `${RENEW_MS}ms`,
        ha_retry_interval: `${POLL_MS}ms`,
      };
      const backend = await createDynamoDBBackend(options, {}, clock);
      const name = `node${i}`;
      const lock = backend.lockWith(LOCK_KEY, JSON.stringify({ id: name, api_addr: `https://${name}:8200` }));
      const node: TestNode = {
        name,
        clock,
        proxy,
        backend,
        holds: [],
        async acquire(signal = cleanupAbort.signal) {
          const hold = await lock.acquire(signal);
          const others = believers().filter((other) => other !== name);
          if (others.length) violations.push(`${name} acquired while ${others.join(", ")} still held`);
          node.holds.push(hold);
          return hold;
        },
        crash() {
          clock.pause();
          proxy.setMode("blackhole");
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
    node.proxy.setMode("pass");
  }
  await Promise.all(nodes.flatMap((node) => node.holds.map((hold) => hold.release().catch(() => {}))));
  await Promise.all(nodes.map((node) => node.proxy.close()));
  nodes = [];
  const seen = violations;
  violations = [];
  expect(seen).toEqual([]);
});

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

describe("dynamodb HA lock", () => {
  it("has one holder at a time and hands over within one poll of a release", async () => {
    const [a, b] = await startNodes([0, 0]);
    const holdA = await a!.acquire();
    expect(holdA.epoch).toBe(1);
    expect(await a!.backend.currentHolder(LOCK_KEY)).toEqual({ value: JSON.stringify({ id: "node0", api_addr: "https://node0:8200" }), epoch: 1 });

    const contending = b!.acquire();
    // Renewals keep it held well past a lease.
    expect(await settledWithin(contending, 2 * LEASE_MS)).toBe("pending");
    expect(holdA.held()).toBe(true);

    const pollsBefore = b!.clock.completedSleeps;
    await holdA.release();
    expect(holdA.held()).toBe(false);
    expect(holdA.lost.reason).toBeInstanceOf(LockLostError);
    const holdB = await contending;
    expect(b!.clock.completedSleeps - pollsBefore).toBeLessThanOrEqual(1);
    expect(holdB.epoch).toBe(2);
    expect((await b!.backend.currentHolder(LOCK_KEY))?.epoch).toBe(2);

    await holdB.release();
    expect(await b!.backend.currentHolder(LOCK_KEY)).toBeNull();
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
    expect(await b!.backend.currentHolder(LOCK_KEY)).toMatchObject({ epoch: holdB.epoch });
  });

  for (const [fault, mode] of [
    ["dropped renewals (blackhole)", "blackhole"],
    ["DynamoDB errors (connection resets)", "reset"],
    ["a DynamoDB slower than the lease", { delayMs: 2 * LEASE_MS }],
  ] as const) {
    it(`under ${fault}, the holder gives up before anyone takes over`, async () => {
      const [a, b] = await startNodes([0, 0]);
      const holdA = await a!.acquire();
      const lost = lostAt(holdA);
      const contending = b!.acquire();
      a!.proxy.setMode(mode);
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
    a!.proxy.setMode("blackhole");
    await delay(RENEW_MS);
    a!.proxy.setMode("pass");
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

  it("rejects an ex-holder's fenced writes once another node holds the lock", async () => {
    const [a, b] = await startNodes([0, 0]);
    const holdA = await a!.acquire();
    const storageA = a!.backend.fencedBy(LOCK_KEY, holdA.epoch);
    await storageA.put("sys/config", new TextEncoder().encode("from A"));

    const contending = b!.acquire();
    a!.clock.pause(); // A stalls, but its network still works: the worst case for late writes
    const holdB = await contending;
    const storageB = b!.backend.fencedBy(LOCK_KEY, holdB.epoch);

    await expect(storageA.put("sys/config", new TextEncoder().encode("late A"))).rejects.toThrow(FencedError);
    await expect(storageA.delete("sys/config")).rejects.toThrow(FencedError);
    expect(new TextDecoder().decode((await storageA.get("sys/config"))!)).toBe("from A");
    expect(await storageA.list("sys/")).toEqual(["config"]);

    await storageB.put("sys/config", new TextEncoder().encode("from B"));
    expect(new TextDecoder().decode((await storageB.get("sys/config"))!)).toBe("from B");
    await holdB.release();
    // Released: no epoch may write any more.
    await expect(storageB.put("sys/config", new TextEncoder().encode("after release"))).rejects.toThrow(/no longer holds epoch 2/);
  });

  it("offers no lock when HA is not enabled", async () => {
    const backend = await createDynamoDBBackend(
      { table: `lock-${crypto.randomUUID()}`, endpoint: dynamodbEndpoint, access_key: "test", secret_key: "test", ha_enabled: "false" },
      {},
    );
    expect(isHABackend(backend)).toBe(false);
    expect(() => backend.lockWith(LOCK_KEY, "x")).toThrow(/ha_enabled/);
    const [node] = await startNodes([0]);
    expect(isHABackend(node!.backend)).toBe(true);
  });
});
