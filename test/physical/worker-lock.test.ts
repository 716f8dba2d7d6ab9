import { Worker } from "node:worker_threads";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/types.js";
import { silentLogger } from "../../src/sdk/logger.js";
import { LockLostError } from "../../src/physical/ha.js";
import { InmemHABackend } from "../../src/physical/inmem-ha.js";
import { haTimingsFrom } from "../../src/physical/lease.js";
import { StorageOptions } from "../../src/physical/options.js";
import { SharedHold } from "../../adapters/node/server/shared-hold.js";
import { LockWorker, stallTimeoutMs } from "../../adapters/node/server/worker-lock.js";

/** The built worker: its imports resolve to the build, as they do in `strongbox server`. */
const WORKER_URL = new URL("../../dist/adapters/node/server/lock-worker.js", import.meta.url);
const LEASE_MS = 300;
/**
 * `inmem_ha` in the worker's own memory: the lease algorithm runs there as on a real store, with
 * no service to start (the server itself keeps an inmem_ha lock in-process).
 */
const stanza = { type: "inmem_ha", options: { ha_lease_duration: `${LEASE_MS}ms`, ha_renew_interval: "100ms", ha_retry_interval: "50ms" } };

const blockMainThread = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until);
};

const workers: LockWorker[] = [];
const startWorker = async (stallMs: number) => {
  const worker = await LockWorker.start({ stanza, leaseMs: LEASE_MS, stallTimeoutMs: stallMs, logLevel: "error", logger: silentLogger, workerUrl: WORKER_URL });
  workers.push(worker);
  return worker;
};

afterEach(async () => {
  await Promise.all(workers.splice(0).map((worker) => worker.close()));
});

describe("SharedHold", () => {
  it("is certain only for the acquisition that holds, until its deadline or a loss", () => {
    const shared = new SharedHold();
    expect(shared.certainForMs(1)).toBe(0);
    shared.holding(1, () => 10_000);
    expect(shared.certainForMs(1)).toBeGreaterThan(9_000);
    expect(shared.certainForMs(1)).toBeLessThanOrEqual(10_000);
    expect(shared.certainForMs(2)).toBe(0);
    blockMainThread(20);
    shared.lost();
    expect(shared.certainForMs(1)).toBe(0);
    // Lost before its deadline: it ended when lost, not at the deadline.
    expect(shared.endedMsAgo(1)).toBeLessThan(20);
    expect(shared.endedMsAgo(2)).toBeNull();
    shared.holding(2, () => 20);
    blockMainThread(30);
    expect(shared.certainForMs(2)).toBe(0);
    // Lost after its deadline (noticed late): it ended at the deadline.
    shared.lost();
    expect(shared.endedMsAgo(2)).toBeGreaterThanOrEqual(10);
  });

  it("counts the main thread's silence from its last beat", () => {
    const shared = new SharedHold();
    shared.beat();
    blockMainThread(50);
    expect(shared.mainSilentForMs()).toBeGreaterThanOrEqual(50);
    shared.beat();
    expect(shared.mainSilentForMs()).toBeLessThan(50);
  });

  it("reads another thread's deadline on the same clock", async () => {
    const shared = new SharedHold();
    const sharedHoldUrl = new URL("../../dist/adapters/node/server/shared-hold.js", import.meta.url).href;
    // A thread started later than this one: its performance.now() counts from its own start.
    const worker = new Worker(
      `const { workerData, parentPort } = require("node:worker_threads");
       import(workerData.url).then(({ SharedHold }) => { new SharedHold(workerData.buffer).holding(7, () => 5000); parentPort.postMessage("done"); });`,
      { eval: true, workerData: { url: sharedHoldUrl, buffer: shared.buffer } },
    );
    await new Promise((resolve) => worker.once("message", resolve));
    await worker.terminate();
    expect(shared.certainForMs(7)).toBeGreaterThan(4_000);
    expect(shared.certainForMs(7)).toBeLessThanOrEqual(5_000);
  });
});

describe("LockWorker: the HA lock held from a worker thread", () => {
  it("acquires, reports the hold synchronously, releases, and acquires again under a higher epoch", async () => {
    const worker = await startWorker(10 * LEASE_MS);
    const lock = worker.lock("core/lock", "node-a");
    const hold = await lock.acquire();
    expect(hold.held()).toBe(true);
    expect(hold.certainForMs()).toBeGreaterThan(0);
    expect(hold.certainForMs()).toBeLessThanOrEqual(LEASE_MS);
    await hold.release();
    expect(hold.held()).toBe(false);
    expect(hold.lost.reason).toBeInstanceOf(LockLostError);
    const next = await lock.acquire();
    expect(next.epoch).toBe(hold.epoch + 1);
    expect(next.held()).toBe(true);
  });

  it("keeps the hold through a main-thread stall of several leases shorter than ha_stall_timeout", async () => {
    const worker = await startWorker(20 * LEASE_MS);
    const hold = await worker.lock("core/lock", "node-a").acquire();
    // The same lease renewed on this thread, for contrast: the stall costs it the hold.
    const inProcess = await new InmemHABackend(haTimingsFrom(new StorageOptions("inmem_ha", stanza.options, {}))).lockWith("core/lock", "node-a").acquire();
    blockMainThread(4 * LEASE_MS);
    // Renewed meanwhile by the worker: certain now, before this thread has run anything else.
    expect(hold.held()).toBe(true);
    expect(hold.certainForMs()).toBeGreaterThan(0);
    expect(inProcess.held()).toBe(false);
  });

  it("gives the lock up when the main thread stalls past ha_stall_timeout; the woken thread sees it lost at once", async () => {
    const worker = await startWorker(2 * LEASE_MS);
    const lock = worker.lock("core/lock", "node-a");
    const hold = await lock.acquire();
    blockMainThread(6 * LEASE_MS);
    // Synchronously, before any message from the worker is handled; the log can tell when it ended.
    expect(hold.held()).toBe(false);
    expect((hold.lost.reason as Error).message).toMatch(/passed \d+ ms ago/);
    expect(hold.certainForMs()).toBe(0);
    expect(hold.lost.aborted).toBe(true);
    await hold.release();
    // Released by the worker, not merely expired: a new claim gets the next epoch.
    const next = await lock.acquire();
    expect(next.epoch).toBe(hold.epoch + 1);
  });

  it("has the worker release a hold this thread gave up on its own reading, so the lock is not kept from everyone", async () => {
    const worker = await startWorker(10 * LEASE_MS);
    const lock = worker.lock("core/lock", "node-a");
    const hold = await lock.acquire();
    // As when this thread reads a deadline that ran out just before the worker published a late renewal.
    const readsExpired = worker as unknown as { certainForMs(id: number): number };
    readsExpired.certainForMs = () => 0;
    expect(hold.held()).toBe(false);
    delete (readsExpired as { certainForMs?: unknown }).certainForMs;
    // Still renewed in the worker unless released there: the record would change every renewal and never be claimable.
    const next = await Promise.race([lock.acquire().catch(() => null), new Promise<null>((resolve) => setTimeout(() => resolve(null), 10 * LEASE_MS))]);
    expect(next?.epoch).toBe(hold.epoch + 1);
    expect(next?.held()).toBe(true);
  });

  it("rejects an aborted acquisition with the signal's reason; the holder keeps the lock", async () => {
    const worker = await startWorker(10 * LEASE_MS);
    const holder = await worker.lock("core/lock", "node-a").acquire();
    const controller = new AbortController();
    const waiting = worker.lock("core/lock", "node-b").acquire(controller.signal);
    controller.abort(new Error("stopping"));
    await expect(waiting).rejects.toThrow("stopping");
    expect(holder.held()).toBe(true);
  });

  it("marks every hold lost when the worker is gone", async () => {
    const worker = await startWorker(10 * LEASE_MS);
    const hold = await worker.lock("core/lock", "node-a").acquire();
    await worker.close();
    expect(hold.held()).toBe(false);
    await expect(worker.lock("core/lock", "node-a").acquire()).rejects.toThrow();
  });
});

describe("ha_stall_timeout", () => {
  const lockStanza = (value?: string) => ({ type: "dynamodb", options: value === undefined ? {} : ({ ha_stall_timeout: value } as Record<string, string>) });

  it("defaults to ten leases and reads a duration", () => {
    expect(stallTimeoutMs(lockStanza(), 1_500, ["server.hcl"], {})).toBe(15_000);
    expect(stallTimeoutMs(lockStanza("30s"), 1_500, ["server.hcl"], {})).toBe(30_000);
  });

  it("refuses a timeout shorter than the lease, naming the file, stanza and key", () => {
    expect(() => stallTimeoutMs(lockStanza("1s"), 1_500, ["server.hcl"], {})).toThrow(ConfigError);
    expect(() => stallTimeoutMs(lockStanza("1s"), 1_500, ["server.hcl"], {})).toThrow(
      /^server\.hcl: storage "dynamodb": ha_stall_timeout = "1s" is not allowed: use at least ha_lease_duration \(1500 ms\)$/,
    );
    expect(() => stallTimeoutMs(lockStanza("soon"), 1_500, ["server.hcl"], {})).toThrow(/ha_stall_timeout = "soon" is not allowed/);
  });
});
